/** Seconds of clock difference tolerated on an access token's `exp`, `nbf` and `iat`. */
export const CLOCK_TOLERANCE_S = 5;

/**
 * The last moment (epoch ms) a token expiring at `expiresAtMs` is accepted, the clock skew
 * past its `exp`: a revocation of the token must last until then, and so must the key that
 * signed it.
 */
export function acceptedUntil(expiresAtMs: number): number {
  return expiresAtMs + CLOCK_TOLERANCE_S * 1000;
}
