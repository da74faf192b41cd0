/**
 * Keyed blind indexes: a deterministic tag of a value, so an encrypted field can still be
 * searched for equality. The tag is HMAC-SHA256 under a dedicated index key, over the
 * (tenant, collection, field) context and the value, truncated to 128 bits.
 *
 * What it leaks: equality. Anyone who sees the tags learns which records share a value in the
 * same tenant, collection and field (and so the frequency of each value); nothing else
 * without the key. Tags differ across tenants, collections and fields. Low-entropy values
 * (booleans, small enums, birth years) stay guessable by anyone who holds the index key.
 */
import { CryptoError } from '../errors.ts';
import { hmacSha256 } from '../internal/hmac-sha256.ts';
import type { BlindIndexKey } from '../keys/data-key.ts';
import { revealSecret } from '../keys/secret-key.ts';
import { type BlindIndexContext, encodeBlindIndexContext } from './field-context.ts';

/** Bytes of HMAC output kept (128 bits: collisions are negligible, so it leaks equality only). */
export const BLIND_INDEX_BYTES = 16;

/** Domain separation from every other use of HMAC in Palisade. */
const BLIND_INDEX_LABEL = Buffer.from('palisade/blind-index/v1\0');

/**
 * The blind index of `value` in `context`: 22 characters of base64url. Strings are hashed as
 * UTF-8; normalize them (case, Unicode form, whitespace) before calling if such variants
 * should match.
 */
export function blindIndex(
  indexKey: BlindIndexKey,
  context: BlindIndexContext,
  value: string | Uint8Array,
): string {
  const secret = revealSecret(indexKey);
  if (typeof value === 'string') {
    if (!value.isWellFormed()) {
      throw new CryptoError('CRYPTO_BAD_CONTEXT', 'the value to index is not well-formed Unicode');
    }
  } else if (!(value instanceof Uint8Array)) {
    throw new CryptoError(
      'CRYPTO_BAD_CONTEXT',
      'the value to index must be a string or a Uint8Array',
    );
  }
  return hmacSha256(secret, [BLIND_INDEX_LABEL, encodeBlindIndexContext(context), value])
    .subarray(0, BLIND_INDEX_BYTES)
    .toString('base64url');
}
