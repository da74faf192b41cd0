/**
 * The KMS that runs in process with the master key (embedded and single-operator setups).
 *
 * Sealed format v1 (integers big-endian):
 *
 * | offset | size | field                                                    |
 * |--------|------|----------------------------------------------------------|
 * | 0      | 1    | format: 0x51 (kind 5 = sealed, version 1)                |
 * | 1      | 1    | algorithm: 0x01 = AES-256-GCM, key HKDF'd from master   |
 * | 2      | 8    | master key id                                            |
 * | 10     | 12   | nonce                                                    |
 * | 22     | m    | ciphertext                                               |
 * | 22+m   | 16   | tag                                                      |
 *
 * Associated data = bytes 0..22 ‖ encodeSealContext(context). The sealing key is
 * HKDF-SHA256(master key, info "palisade/kms/seal/v1"), so the master key itself encrypts
 * nothing.
 */
import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { CryptoError } from '../errors.ts';
import {
  GCM_NONCE_LENGTH,
  GCM_TAG_LENGTH,
  gcmOpen,
  gcmSealInto,
  writeRandomNonce,
} from '../internal/aes-gcm.ts';
import { ByteReader } from '../internal/bytes.ts';
import { revealSecret } from '../keys/secret-key.ts';
import { MASTER_KEY_ID_LENGTH, type MasterKey } from '../keystore/master-key.ts';
import { encodeSealContext, type Kms, type SealContext } from './kms.ts';

/** First byte of a value sealed by `LocalKms`, format version 1. */
export const SEALED_FORMAT_V1 = 0x51;
/** Algorithm id: AES-256-GCM under HKDF-SHA256(master key). */
export const SEAL_ALG_AES_256_GCM = 0x01;

const HEADER_LENGTH = 2 + MASTER_KEY_ID_LENGTH + GCM_NONCE_LENGTH;
const SEAL_INFO = Buffer.from('palisade/kms/seal/v1');

function sealingKey(master: MasterKey): Buffer {
  return Buffer.from(hkdfSync('sha256', revealSecret(master), Buffer.alloc(0), SEAL_INFO, 32));
}

/** Options of {@link LocalKms}. */
export interface LocalKmsOptions {
  /** Older master keys that `open` still accepts, during a master key rotation. */
  readonly previous?: readonly MasterKey[];
}

/** A {@link Kms} holding the master key in this process. */
export class LocalKms implements Kms {
  readonly #current: MasterKey;
  readonly #byId: Map<string, MasterKey>;
  readonly #macKeys = new Map<string, KeyObject>();

  /** @param masterKey - Seals; with `options.previous`, all of them open. */
  constructor(masterKey: MasterKey, options: LocalKmsOptions = {}) {
    this.#current = masterKey;
    this.#byId = new Map([...(options.previous ?? []), masterKey].map((key) => [key.id, key]));
  }

  /** The current master key's public id. */
  get keyId(): string {
    return this.#current.id;
  }

  /** Seals `plaintext` bound to `context` (format v1 above). */
  async seal(context: SealContext, plaintext: Uint8Array): Promise<Uint8Array> {
    const aadContext = encodeSealContext(context);
    if (!(plaintext instanceof Uint8Array)) {
      throw new CryptoError('CRYPTO_BAD_CONTEXT', 'the value to seal must be a Uint8Array');
    }
    const out = Buffer.alloc(HEADER_LENGTH + plaintext.length + GCM_TAG_LENGTH);
    out[0] = SEALED_FORMAT_V1;
    out[1] = SEAL_ALG_AES_256_GCM;
    out.write(this.#current.id, 2, 'hex');
    writeRandomNonce(out, 2 + MASTER_KEY_ID_LENGTH);
    const key = sealingKey(this.#current);
    try {
      const header = out.subarray(0, HEADER_LENGTH);
      gcmSealInto(
        key,
        header.subarray(2 + MASTER_KEY_ID_LENGTH),
        Buffer.concat([header, aadContext]),
        plaintext,
        out,
        HEADER_LENGTH,
      );
    } finally {
      key.fill(0);
    }
    return out;
  }

  /**
   * Opens a sealed value.
   * @throws CryptoError `CRYPTO_BAD_HEADER` (malformed), `CRYPTO_BAD_MASTER_KEY` (sealed under
   *   a master key this KMS does not hold), `CRYPTO_DECRYPT_FAILED` (other context or modified).
   */
  async open(context: SealContext, sealed: Uint8Array): Promise<Uint8Array> {
    const { masterKeyId, nonce } = readSealedHeader(sealed);
    const master = this.#byId.get(masterKeyId);
    if (master === undefined) {
      throw new CryptoError(
        'CRYPTO_BAD_MASTER_KEY',
        `the value was sealed under master key ${masterKeyId}, which is not loaded`,
      );
    }
    const aad = Buffer.concat([sealed.subarray(0, HEADER_LENGTH), encodeSealContext(context)]);
    const key = sealingKey(master);
    try {
      return gcmOpen(key, nonce, aad, sealed.subarray(HEADER_LENGTH), 'the sealed value');
    } finally {
      key.fill(0);
    }
  }

  /** HMAC-SHA256 under HKDF-SHA256(current master key, info `label`); keys cached per label. */
  async mac(label: string, data: Uint8Array): Promise<Uint8Array> {
    if (typeof label !== 'string' || label === '') {
      throw new CryptoError('CRYPTO_BAD_CONTEXT', 'a MAC label must be a non-empty string');
    }
    let key = this.#macKeys.get(label);
    if (key === undefined) {
      const bytes = Buffer.from(
        hkdfSync('sha256', revealSecret(this.#current), Buffer.alloc(0), Buffer.from(label), 32),
      );
      key = createSecretKey(bytes);
      bytes.fill(0);
      this.#macKeys.set(label, key);
    }
    return createHmac('sha256', key).update(data).digest();
  }

  /** True when `sealed` names the current master key. */
  isCurrent(sealed: Uint8Array): boolean {
    return readSealedHeader(sealed).masterKeyId === this.#current.id;
  }

  /** Redacted summary. */
  toJSON(): { kind: string; keyId: string } {
    return { kind: 'LocalKms', keyId: this.keyId };
  }

  /** Redacted summary for `util.inspect`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `[LocalKms ${this.keyId}]`;
  }
}

/** Reads the header of a value sealed by `LocalKms`. */
export function readSealedHeader(sealed: Uint8Array): { masterKeyId: string; nonce: Uint8Array } {
  if (!(sealed instanceof Uint8Array)) {
    throw new CryptoError('CRYPTO_BAD_HEADER', 'a sealed value must be a Uint8Array');
  }
  const reader = new ByteReader(sealed);
  const format = reader.u8('format');
  if (format !== SEALED_FORMAT_V1) {
    throw new CryptoError(
      'CRYPTO_BAD_HEADER',
      `not a sealed value of a known format (first byte 0x${format.toString(16)})`,
    );
  }
  if (reader.u8('algorithm') !== SEAL_ALG_AES_256_GCM) {
    throw new CryptoError('CRYPTO_BAD_HEADER', 'unknown sealing algorithm');
  }
  const masterKeyId = Buffer.from(reader.bytes(MASTER_KEY_ID_LENGTH, 'master key id')).toString(
    'hex',
  );
  const nonce = reader.bytes(GCM_NONCE_LENGTH, 'nonce');
  if (reader.remaining < GCM_TAG_LENGTH) {
    throw new CryptoError('CRYPTO_BAD_HEADER', 'truncated input: the sealed value has no tag');
  }
  return { masterKeyId, nonce };
}
