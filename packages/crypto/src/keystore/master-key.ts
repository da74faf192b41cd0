/**
 * The master key: 32 bytes at the root of the hierarchy. It never encrypts data; the local
 * KMS derives its sealing key from it and seals each tenant's KEK. Its `id` is a public
 * fingerprint (HMAC-SHA256 of a fixed label, 8 bytes, hex), recorded in every sealed value so
 * a rotation knows what is already done and a wrong key is reported as such.
 */
import { createHmac } from 'node:crypto';
import { CryptoError } from '../errors.ts';
import { freshRandom, revealSecret, SecretKey } from '../keys/secret-key.ts';

/** Length of the master key in bytes. */
export const MASTER_KEY_LENGTH = 32;
/** Length of the master key id (fingerprint) in bytes. */
export const MASTER_KEY_ID_LENGTH = 8;

const ID_LABEL = Buffer.from('palisade/master-key-id/v1');

/** The root key. Prints and serializes redacted (with its public id). */
export class MasterKey extends SecretKey {
  protected readonly kind = 'MasterKey';
  /** Public fingerprint, 16 hex digits; safe to log. */
  readonly id: string;

  private constructor(bytes: Uint8Array) {
    super(bytes, MASTER_KEY_LENGTH);
    this.id = createHmac('sha256', revealSecret(this))
      .update(ID_LABEL)
      .digest()
      .subarray(0, MASTER_KEY_ID_LENGTH)
      .toString('hex');
  }

  /** A new random master key. */
  static generate(): MasterKey {
    const bytes = freshRandom(MASTER_KEY_LENGTH);
    try {
      return new MasterKey(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** A master key from 32 bytes (copied: zero your copy when done). */
  static fromBytes(bytes: Uint8Array): MasterKey {
    if (!(bytes instanceof Uint8Array) || bytes.length !== MASTER_KEY_LENGTH) {
      throw new CryptoError(
        'CRYPTO_BAD_MASTER_KEY',
        `the master key must be ${MASTER_KEY_LENGTH} bytes`,
      );
    }
    return new MasterKey(bytes);
  }

  /**
   * A master key from text: 64 hex digits or base64/base64url of 32 bytes, surrounding
   * whitespace ignored. `what` names the source in the error (never the value).
   */
  static fromText(text: string, what = 'the master key'): MasterKey {
    const bytes = decodeKeyText(text, what);
    try {
      return new MasterKey(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** The key as base64 text, e.g. to write a key file; handle with care. */
  exportBase64(): string {
    return revealSecret(this).toString('base64');
  }

  /** Redacted, with the public id. */
  override toString(): string {
    return `[MasterKey ${this.id} redacted]`;
  }

  /** Redacted, with the public id. */
  override toJSON(): { kind: string; redacted: true; id: string } {
    return { kind: this.kind, redacted: true, id: this.id };
  }
}

function decodeKeyText(text: string, what: string): Buffer {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed, 'base64');
    if (bytes.length === MASTER_KEY_LENGTH) return bytes;
  }
  throw new CryptoError(
    'CRYPTO_BAD_MASTER_KEY',
    `${what} must be ${MASTER_KEY_LENGTH} bytes written as 64 hex digits or base64`,
  );
}
