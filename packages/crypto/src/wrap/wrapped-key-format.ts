/**
 * The binary format of a data key wrapped to a tenant key-encryption key (KEK).
 *
 * Format v1 (integers big-endian; n = key id length):
 *
 * | offset  | size | field                                                  |
 * |---------|------|--------------------------------------------------------|
 * | 0       | 1    | format: 0xA1 (kind A = wrapped key, version 1)         |
 * | 1       | 1    | algorithm: 0x01 = X-Wing + HKDF-SHA256 + AES-256-GCM   |
 * | 2       | 4    | KEK version (which tenant KEK the key is wrapped to)   |
 * | 6       | 1    | data key id length n (1..64)                           |
 * | 7       | n    | data key id, UTF-8                                     |
 * | 7+n     | 4    | data key version                                       |
 * | 11+n    | 1120 | X-Wing ciphertext                                      |
 * | 1131+n  | 12   | AES-GCM nonce                                          |
 * | 1143+n  | 32   | encrypted data key                                     |
 * | 1175+n  | 16   | tag                                                    |
 *
 * Total 1191 + n bytes. The header is bytes 0..1143+n (everything before the encrypted key).
 */
import { CryptoError } from '../errors.ts';
import { GCM_NONCE_LENGTH, GCM_TAG_LENGTH } from '../internal/aes-gcm.ts';
import { ByteReader, ByteWriter } from '../internal/bytes.ts';
import { XWING_CIPHERTEXT_LENGTH } from '../kem/xwing.ts';
import { checkKeyId, DATA_KEY_LENGTH } from '../keys/data-key.ts';

/** First byte of a wrapped data key, format version 1. */
export const WRAPPED_KEY_FORMAT_V1 = 0xa1;
/** Algorithm id: X-Wing KEM, HKDF-SHA256, AES-256-GCM. */
export const WRAP_ALG_XWING_HKDF_SHA256_AES_256_GCM = 0x01;

/** What a wrapped key's header says, readable without any key. */
export interface WrappedKeyHeader {
  readonly format: number;
  readonly algorithm: number;
  /** The version of the tenant KEK needed to unwrap. */
  readonly kekVersion: number;
  /** The wrapped data key's id. */
  readonly keyId: string;
  /** The wrapped data key's version. */
  readonly keyVersion: number;
}

/** A parsed wrapped key: header fields plus views of its parts. */
export interface ParsedWrappedKey extends WrappedKeyHeader {
  readonly kemCiphertext: Uint8Array;
  readonly nonce: Uint8Array;
  /** Bytes 0..1143+n, bound as associated data. */
  readonly headerBytes: Uint8Array;
  /** Encrypted key ‖ tag. */
  readonly sealed: Uint8Array;
}

/** Serializes a wrapped key. */
export function encodeWrappedKey(fields: {
  kekVersion: number;
  keyId: string;
  keyVersion: number;
  kemCiphertext: Uint8Array;
  nonce: Uint8Array;
}): Buffer {
  return new ByteWriter()
    .u8(WRAPPED_KEY_FORMAT_V1)
    .u8(WRAP_ALG_XWING_HKDF_SHA256_AES_256_GCM)
    .u32(fields.kekVersion)
    .shortBytes(new TextEncoder().encode(fields.keyId))
    .u32(fields.keyVersion)
    .bytes(fields.kemCiphertext)
    .bytes(fields.nonce)
    .finish();
}

/** Parses a wrapped key; any structural problem throws `CRYPTO_BAD_HEADER`. */
export function parseWrappedKey(wrapped: Uint8Array): ParsedWrappedKey {
  if (!(wrapped instanceof Uint8Array)) {
    throw new CryptoError('CRYPTO_BAD_HEADER', 'a wrapped key must be a Uint8Array');
  }
  const reader = new ByteReader(wrapped);
  const format = reader.u8('format');
  if (format !== WRAPPED_KEY_FORMAT_V1) {
    throw new CryptoError(
      'CRYPTO_BAD_HEADER',
      `not a wrapped key of a known format (first byte 0x${format.toString(16)})`,
    );
  }
  const algorithm = reader.u8('algorithm');
  if (algorithm !== WRAP_ALG_XWING_HKDF_SHA256_AES_256_GCM) {
    throw new CryptoError(
      'CRYPTO_BAD_HEADER',
      `unknown wrap algorithm 0x${algorithm.toString(16)}`,
    );
  }
  const kekVersion = reader.u32('KEK version');
  let keyId: string;
  try {
    keyId = checkKeyId(
      new TextDecoder('utf-8', { fatal: true }).decode(reader.shortBytes('key id')),
    );
  } catch (error) {
    if (error instanceof CryptoError && error.code === 'CRYPTO_BAD_HEADER') throw error;
    throw new CryptoError('CRYPTO_BAD_HEADER', 'the wrapped key has an invalid key id');
  }
  const keyVersion = reader.u32('key version');
  if (kekVersion === 0 || keyVersion === 0) {
    throw new CryptoError(
      'CRYPTO_BAD_HEADER',
      'the wrapped key names version 0, which is never issued',
    );
  }
  const kemCiphertext = reader.bytes(XWING_CIPHERTEXT_LENGTH, 'X-Wing ciphertext');
  const nonce = reader.bytes(GCM_NONCE_LENGTH, 'nonce');
  const headerBytes = wrapped.subarray(0, reader.offset);
  const sealed = reader.bytes(DATA_KEY_LENGTH + GCM_TAG_LENGTH, 'encrypted key');
  if (reader.remaining !== 0) {
    throw new CryptoError('CRYPTO_BAD_HEADER', 'the wrapped key has trailing bytes');
  }
  return {
    format,
    algorithm,
    kekVersion,
    keyId,
    keyVersion,
    kemCiphertext,
    nonce,
    headerBytes,
    sealed,
  };
}

/** Reads a wrapped key's header (which KEK version, which data key) without any key. */
export function readWrappedKeyHeader(wrapped: Uint8Array): WrappedKeyHeader {
  const { format, algorithm, kekVersion, keyId, keyVersion } = parseWrappedKey(wrapped);
  return { format, algorithm, kekVersion, keyId, keyVersion };
}
