/**
 * AES-256-GCM with a 96-bit nonce and a 128-bit tag, the one AEAD of this package. A failed
 * tag check becomes `CRYPTO_DECRYPT_FAILED` with no cause attached, so nothing distinguishes
 * one authentication failure from another.
 */
import { createCipheriv, createDecipheriv, type KeyObject, randomFillSync } from 'node:crypto';
import { CryptoError } from '../errors.ts';

/** Nonce length in bytes. */
export const GCM_NONCE_LENGTH = 12;
/** Tag length in bytes. */
export const GCM_TAG_LENGTH = 16;

/** How many nonces one `randomFillSync` call prepares (nonces are public, not secret). */
const NONCE_POOL_NONCES = 256;
const noncePool = Buffer.alloc(GCM_NONCE_LENGTH * NONCE_POOL_NONCES);
let noncePoolOffset = noncePool.length;

/** A fresh random 96-bit nonce, copied into `out` at `offset`. */
export function writeRandomNonce(out: Uint8Array, offset: number): void {
  if (noncePoolOffset === noncePool.length) {
    randomFillSync(noncePool);
    noncePoolOffset = 0;
  }
  out.set(noncePool.subarray(noncePoolOffset, noncePoolOffset + GCM_NONCE_LENGTH), offset);
  noncePoolOffset += GCM_NONCE_LENGTH;
}

/**
 * Encrypts `plaintext` into `out` at `offset`, followed by the tag. `out` must have room for
 * `plaintext.length + GCM_TAG_LENGTH` bytes from `offset`.
 */
export function gcmSealInto(
  key: Uint8Array | KeyObject,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_LENGTH });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const tail = cipher.final();
  out.set(body, offset);
  out.set(tail, offset + body.length);
  out.set(cipher.getAuthTag(), offset + plaintext.length);
}

/**
 * Decrypts `sealed` = ciphertext ‖ tag. Throws `CRYPTO_DECRYPT_FAILED` when the tag does not
 * verify (wrong key, wrong associated data, or any modified byte).
 */
export function gcmOpen(
  key: Uint8Array | KeyObject,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
  what: string,
): Buffer {
  if (sealed.length < GCM_TAG_LENGTH) {
    throw new CryptoError('CRYPTO_BAD_HEADER', `truncated input: ${what} has no room for its tag`);
  }
  const split = sealed.length - GCM_TAG_LENGTH;
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_LENGTH });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(split));
  const body = decipher.update(sealed.subarray(0, split));
  try {
    const tail = decipher.final();
    return tail.length === 0 ? body : Buffer.concat([body, tail]);
  } catch {
    body.fill(0);
    throw new CryptoError(
      'CRYPTO_DECRYPT_FAILED',
      `${what} failed authentication: wrong key, wrong context, or modified bytes`,
    );
  }
}
