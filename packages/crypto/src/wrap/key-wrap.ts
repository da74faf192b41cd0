/**
 * Wrapping data keys to a tenant's X-Wing key-encryption key (KEK): encapsulate to the KEK's
 * public key, derive a one-time AES-256-GCM key with HKDF-SHA256 whose info binds the tenant,
 * the KEK version and the data key's id and version, and encrypt the 32-byte data key with
 * the whole header (including the KEM ciphertext) as associated data.
 *
 * Only the public key is needed to wrap, so new data keys can be minted without touching the
 * master key or the KMS; unwrapping needs the tenant's KEK secret key.
 */
import { hkdfSync } from 'node:crypto';
import { CryptoError } from '../errors.ts';
import {
  GCM_NONCE_LENGTH,
  GCM_TAG_LENGTH,
  gcmOpen,
  gcmSealInto,
  writeRandomNonce,
} from '../internal/aes-gcm.ts';
import { ByteWriter, contextString, keyVersion } from '../internal/bytes.ts';
import { type XWingEncapsulate, type XWingSecretKey, xwingEncapsulate } from '../kem/xwing.ts';
import { DATA_KEY_LENGTH, DataKey } from '../keys/data-key.ts';
import { revealSecret } from '../keys/secret-key.ts';
import { encodeWrappedKey, parseWrappedKey } from './wrapped-key-format.ts';

/** Whose KEK a data key is wrapped to. */
export interface WrapContext {
  /** The tenant that owns the KEK and the data key. */
  readonly tenantId: string;
  /** The version of the tenant's KEK. */
  readonly kekVersion: number;
}

/** Test hooks; production code passes nothing. */
export interface WrapOptions {
  /** Replaces X-Wing encapsulation (known-answer tests use a derandomized one). */
  readonly encapsulate?: XWingEncapsulate;
  /** Replaces the random nonce (known-answer tests only). */
  readonly nonce?: Uint8Array;
}

const WRAP_INFO_LABEL = Buffer.from('palisade/wrap/v1\0');

function kdfInfo(context: WrapContext, keyId: string, version: number): Buffer {
  return new ByteWriter()
    .bytes(WRAP_INFO_LABEL)
    .shortBytes(contextString('tenantId', context?.tenantId))
    .u32(keyVersion('kekVersion', context.kekVersion))
    .shortBytes(new TextEncoder().encode(keyId))
    .u32(version)
    .finish();
}

function deriveWrapKey(sharedSecret: Uint8Array, info: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', sharedSecret, Buffer.alloc(0), info, 32));
}

/**
 * Wraps `dataKey` to the tenant KEK whose X-Wing public key is `publicKey`.
 * @returns the wrapped key (format v1, 1191 + key id length bytes).
 */
export function wrapDataKey(
  publicKey: Uint8Array,
  dataKey: DataKey,
  context: WrapContext,
  options: WrapOptions = {},
): Uint8Array {
  const secret = revealSecret(dataKey);
  const info = kdfInfo(context, dataKey.keyId, dataKey.version);
  const { sharedSecret, ciphertext } = (options.encapsulate ?? xwingEncapsulate)(publicKey);
  const wrapKey = deriveWrapKey(sharedSecret, info);
  const nonce = Buffer.alloc(GCM_NONCE_LENGTH);
  if (options.nonce === undefined) writeRandomNonce(nonce, 0);
  else if (options.nonce.length === GCM_NONCE_LENGTH) nonce.set(options.nonce);
  else throw new CryptoError('CRYPTO_INVALID_OPTION', `nonce must be ${GCM_NONCE_LENGTH} bytes`);
  const header = encodeWrappedKey({
    kekVersion: context.kekVersion,
    keyId: dataKey.keyId,
    keyVersion: dataKey.version,
    kemCiphertext: ciphertext,
    nonce,
  });
  const out = Buffer.alloc(header.length + DATA_KEY_LENGTH + GCM_TAG_LENGTH);
  out.set(header, 0);
  try {
    gcmSealInto(wrapKey, nonce, Buffer.concat([header, info]), secret, out, header.length);
  } finally {
    wrapKey.fill(0);
    sharedSecret.fill(0);
  }
  return out;
}

/**
 * Unwraps a data key with the tenant's KEK of the version the header names.
 * @throws CryptoError `CRYPTO_BAD_HEADER` (malformed), `CRYPTO_UNKNOWN_KEY_VERSION` (the
 *   header names another KEK version than `context.kekVersion`), `CRYPTO_DECRYPT_FAILED`
 *   (wrong KEK, wrong tenant, or any modified byte).
 */
export function unwrapDataKey(
  kek: XWingSecretKey,
  context: WrapContext,
  wrapped: Uint8Array,
): DataKey {
  const parsed = parseWrappedKey(wrapped);
  const info = kdfInfo(context, parsed.keyId, parsed.keyVersion);
  if (parsed.kekVersion !== context.kekVersion) {
    throw new CryptoError(
      'CRYPTO_UNKNOWN_KEY_VERSION',
      `the key is wrapped to KEK version ${parsed.kekVersion}, not ${context.kekVersion}`,
    );
  }
  const sharedSecret = kek.decapsulate(parsed.kemCiphertext);
  const wrapKey = deriveWrapKey(sharedSecret, info);
  sharedSecret.fill(0);
  let bytes: Buffer | undefined;
  try {
    bytes = gcmOpen(
      wrapKey,
      parsed.nonce,
      Buffer.concat([parsed.headerBytes, info]),
      parsed.sealed,
      'the wrapped key',
    );
    return DataKey.fromBytes(parsed.keyId, parsed.keyVersion, bytes);
  } finally {
    wrapKey.fill(0);
    bytes?.fill(0);
  }
}

/**
 * Re-wraps a data key from one KEK to another (KEK rotation): unwrap, wrap, and destroy the
 * plaintext key. The data encrypted under the data key is untouched.
 */
export function rewrapDataKey(
  from: { readonly kek: XWingSecretKey; readonly context: WrapContext },
  to: { readonly publicKey: Uint8Array; readonly context: WrapContext },
  wrapped: Uint8Array,
): Uint8Array {
  const dataKey = unwrapDataKey(from.kek, from.context, wrapped);
  try {
    return wrapDataKey(to.publicKey, dataKey, to.context);
  } finally {
    dataKey.destroy();
  }
}
