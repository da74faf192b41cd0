/**
 * Data keys: the 32-byte AES-256-GCM keys that encrypt fields. A data key has an id (which
 * key: e.g. `fields`) and a version (which generation of it); both travel in every field
 * ciphertext header so a keyring can pick the right version to decrypt.
 */
import { CryptoError } from '../errors.ts';
import { contextLength, keyVersion } from '../internal/bytes.ts';
import { freshRandom, SecretKey } from './secret-key.ts';

/** Length of a data key in bytes (AES-256). */
export const DATA_KEY_LENGTH = 32;

/** Longest key id, in UTF-8 bytes. */
export const KEY_ID_MAX_BYTES = 64;

/** Validates a key id: a non-empty, well-formed string of at most 64 UTF-8 bytes. */
export function checkKeyId(keyId: unknown): string {
  if (contextLength('keyId', keyId) > KEY_ID_MAX_BYTES) {
    throw new CryptoError('CRYPTO_BAD_CONTEXT', `keyId is longer than ${KEY_ID_MAX_BYTES} bytes`);
  }
  return keyId as string;
}

/** A versioned 32-byte AES-256-GCM data key. Prints and serializes redacted. */
export class DataKey extends SecretKey {
  protected readonly kind = 'DataKey';
  /** Which key this is (e.g. `fields`); at most 64 UTF-8 bytes. */
  readonly keyId: string;
  /** Which generation of the key, 1..2^32-1; a keyring encrypts with the highest. */
  readonly version: number;

  private constructor(keyId: string, version: number, bytes: Uint8Array) {
    super(bytes, DATA_KEY_LENGTH);
    this.keyId = keyId;
    this.version = version;
  }

  /** A new random data key. */
  static generate(keyId: string, version: number): DataKey {
    const bytes = freshRandom(DATA_KEY_LENGTH);
    try {
      return DataKey.fromBytes(keyId, version, bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** A data key from existing bytes (copied: zero your copy when done). */
  static fromBytes(keyId: string, version: number, bytes: Uint8Array): DataKey {
    return new DataKey(checkKeyId(keyId), keyVersion('version', version), bytes);
  }

  /** Redacted, with the non-secret id and version. */
  override toString(): string {
    return `[DataKey ${this.keyId} v${this.version} redacted]`;
  }

  /** Redacted, with the non-secret id and version. */
  override toJSON(): { kind: string; redacted: true; keyId: string; version: number } {
    return { kind: this.kind, redacted: true, keyId: this.keyId, version: this.version };
  }
}

/** Length of a blind-index key in bytes (HMAC-SHA256). */
export const BLIND_INDEX_KEY_LENGTH = 32;

/** A 32-byte HMAC-SHA256 key for blind indexes; keep it separate from encryption keys. */
export class BlindIndexKey extends SecretKey {
  protected readonly kind = 'BlindIndexKey';

  private constructor(bytes: Uint8Array) {
    super(bytes, BLIND_INDEX_KEY_LENGTH);
  }

  /** A new random blind-index key. */
  static generate(): BlindIndexKey {
    const bytes = freshRandom(BLIND_INDEX_KEY_LENGTH);
    try {
      return new BlindIndexKey(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** A blind-index key from existing bytes (copied). */
  static fromBytes(bytes: Uint8Array): BlindIndexKey {
    return new BlindIndexKey(bytes);
  }
}
