/**
 * Field encryption: AES-256-GCM under a versioned data key, with the header and the field's
 * context as associated data.
 *
 * Format v1 (all integers big-endian):
 *
 * | offset | size | field                                        |
 * |--------|------|----------------------------------------------|
 * | 0      | 1    | format: 0xF1 (kind F = field, version 1)     |
 * | 1      | 1    | algorithm: 0x01 = AES-256-GCM                 |
 * | 2      | 1    | key id length n (1..64)                      |
 * | 3      | n    | key id, UTF-8                                |
 * | 3+n    | 4    | key version                                  |
 * | 7+n    | 12   | nonce (random)                               |
 * | 19+n   | m    | ciphertext (m = plaintext length)            |
 * | 19+n+m | 16   | tag                                          |
 *
 * Associated data = header (bytes 0..19+n) ‖ encodeFieldContext(context, key version).
 */
import { CryptoError } from '../errors.ts';
import {
  GCM_NONCE_LENGTH,
  GCM_TAG_LENGTH,
  gcmOpen,
  gcmSealInto,
  writeRandomNonce,
} from '../internal/aes-gcm.ts';
import { ByteReader } from '../internal/bytes.ts';
import { checkKeyId, type DataKey } from '../keys/data-key.ts';
import { DataKeyring } from '../keys/keyring.ts';
import { revealKeyObject } from '../keys/secret-key.ts';
import { encodeFieldContext, type FieldContext } from './field-context.ts';

/** First byte of a field ciphertext, format version 1. */
export const FIELD_FORMAT_V1 = 0xf1;
/** Algorithm id of AES-256-GCM with a 96-bit random nonce and a 128-bit tag. */
export const FIELD_ALG_AES_256_GCM = 0x01;

/** Stateless with `fatal` and no `stream`, so one decoder serves every parse. */
const keyIdDecoder = new TextDecoder('utf-8', { fatal: true });

/** What a field ciphertext header says, readable without any key. */
export interface FieldCiphertextHeader {
  readonly format: number;
  readonly algorithm: number;
  readonly keyId: string;
  readonly keyVersion: number;
}

/**
 * Encrypts one field value. With a keyring, the newest version encrypts.
 * @returns header ‖ ciphertext ‖ tag (format v1 above).
 */
export function encryptField(
  key: DataKey | DataKeyring,
  context: FieldContext,
  plaintext: Uint8Array,
): Uint8Array {
  const dataKey = key instanceof DataKeyring ? key.current : key;
  const secret = revealKeyObject(dataKey);
  if (!(plaintext instanceof Uint8Array)) {
    throw new CryptoError('CRYPTO_BAD_CONTEXT', 'plaintext must be a Uint8Array');
  }
  const keyIdLength = Buffer.byteLength(dataKey.keyId, 'utf8');
  const nonceAt = 3 + keyIdLength + 4;
  const headerLength = nonceAt + GCM_NONCE_LENGTH;
  // The associated data starts with the header: write it there, then copy it to the output.
  const aad = encodeFieldContext(context, dataKey.version, headerLength);
  aad[0] = FIELD_FORMAT_V1;
  aad[1] = FIELD_ALG_AES_256_GCM;
  aad[2] = keyIdLength;
  aad.write(dataKey.keyId, 3, keyIdLength, 'utf8');
  aad.writeUInt32BE(dataKey.version, nonceAt - 4);
  writeRandomNonce(aad, nonceAt);
  const out = Buffer.allocUnsafe(headerLength + plaintext.length + GCM_TAG_LENGTH);
  aad.copy(out, 0, 0, headerLength);
  gcmSealInto(secret, aad.subarray(nonceAt, headerLength), aad, plaintext, out, headerLength);
  return out;
}

function parse(ciphertext: Uint8Array): {
  header: FieldCiphertextHeader;
  headerBytes: Uint8Array;
  nonce: Uint8Array;
  sealed: Uint8Array;
} {
  if (!(ciphertext instanceof Uint8Array)) {
    throw new CryptoError('CRYPTO_BAD_HEADER', 'a field ciphertext must be a Uint8Array');
  }
  const reader = new ByteReader(ciphertext);
  const format = reader.u8('format');
  if (format !== FIELD_FORMAT_V1) {
    throw new CryptoError(
      'CRYPTO_BAD_HEADER',
      `not a field ciphertext of a known format (first byte 0x${format.toString(16)})`,
    );
  }
  const algorithm = reader.u8('algorithm');
  if (algorithm !== FIELD_ALG_AES_256_GCM) {
    throw new CryptoError(
      'CRYPTO_BAD_HEADER',
      `unknown field algorithm 0x${algorithm.toString(16)}`,
    );
  }
  let keyId: string;
  try {
    keyId = checkKeyId(keyIdDecoder.decode(reader.shortBytes('key id')));
  } catch (error) {
    if (error instanceof CryptoError && error.code === 'CRYPTO_BAD_HEADER') throw error;
    throw new CryptoError('CRYPTO_BAD_HEADER', 'the field ciphertext has an invalid key id');
  }
  const keyVersion = reader.u32('key version');
  const nonce = reader.bytes(GCM_NONCE_LENGTH, 'nonce');
  const headerBytes = ciphertext.subarray(0, reader.offset);
  const sealed = reader.bytes(reader.remaining, 'ciphertext');
  if (sealed.length < GCM_TAG_LENGTH) {
    throw new CryptoError('CRYPTO_BAD_HEADER', 'truncated input: the field ciphertext has no tag');
  }
  return { header: { format, algorithm, keyId, keyVersion }, headerBytes, nonce, sealed };
}

/** Reads a field ciphertext's header (format, algorithm, key id, key version) without a key. */
export function readFieldHeader(ciphertext: Uint8Array): FieldCiphertextHeader {
  return parse(ciphertext).header;
}

/**
 * Decrypts one field value with whichever keyring version its header names.
 * @throws CryptoError `CRYPTO_BAD_HEADER` (malformed), `CRYPTO_KEY_ID_MISMATCH` (another key
 *   id), `CRYPTO_UNKNOWN_KEY_VERSION` (version not in the keyring), `CRYPTO_DECRYPT_FAILED`
 *   (wrong context, wrong key, or any modified byte).
 */
export function decryptField(
  keyring: DataKeyring | DataKey,
  context: FieldContext,
  ciphertext: Uint8Array,
): Uint8Array {
  const { header, headerBytes, nonce, sealed } = parse(ciphertext);
  const ring = keyring instanceof DataKeyring ? keyring : new DataKeyring([keyring]);
  if (header.keyId !== ring.keyId) {
    throw new CryptoError(
      'CRYPTO_KEY_ID_MISMATCH',
      'the field was encrypted under a different key id than this keyring holds',
    );
  }
  const key = ring.get(header.keyVersion);
  const aad = encodeFieldContext(context, header.keyVersion, headerBytes.length);
  aad.set(headerBytes, 0);
  return gcmOpen(revealKeyObject(key), nonce, aad, sealed, 'the field ciphertext');
}
