/**
 * The one error class of `@palisade/crypto`. Its `code` is a closed union: callers branch on
 * the code, never on the message. Codes are documented in the package README (a test fails
 * when the list here and the README drift) and a retired code is never reused.
 *
 * Messages name what was wrong (which field, which version) and never include key material,
 * plaintext or ciphertext bytes.
 */

/** Every code a {@link CryptoError} can carry. */
export const CRYPTO_ERROR_CODES = [
  'CRYPTO_DECRYPT_FAILED',
  'CRYPTO_BAD_HEADER',
  'CRYPTO_UNKNOWN_KEY_VERSION',
  'CRYPTO_KEY_ID_MISMATCH',
  'CRYPTO_BAD_KEY',
  'CRYPTO_BAD_CONTEXT',
  'CRYPTO_BAD_MASTER_KEY',
  'CRYPTO_MASTER_KEY_MISSING',
  'CRYPTO_KEY_DESTROYED',
  'CRYPTO_INVALID_OPTION',
] as const;

/** A stable error code; see the README's error table for the meaning of each. */
export type CryptoErrorCode = (typeof CRYPTO_ERROR_CODES)[number];

/** Thrown by every `@palisade/crypto` operation that fails for a reason a caller can name. */
export class CryptoError extends Error {
  /** The stable code; branch on this, not on `message`. */
  readonly code: CryptoErrorCode;

  /**
   * @param code - The stable code.
   * @param message - A human sentence; must not contain secrets.
   * @param options - Standard `ErrorOptions` (a `cause` without secrets).
   */
  constructor(code: CryptoErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CryptoError';
    this.code = code;
  }
}

/** True when `value` is a {@link CryptoError}, optionally with the given code. */
export function isCryptoError(value: unknown, code?: CryptoErrorCode): value is CryptoError {
  return value instanceof CryptoError && (code === undefined || value.code === code);
}
