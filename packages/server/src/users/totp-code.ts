/**
 * RFC 6238 codes with `otpauth`: SHA-1, 6 digits, 30-second steps (what authenticator apps
 * expect), 20-byte secrets (RFC 4226's recommended 160 bits). A code is accepted one step
 * either side of now; the step it matched is returned so the caller can refuse its reuse.
 */
import { Secret, TOTP } from 'otpauth';

const PERIOD_SECONDS = 30;
const WINDOW_STEPS = 1;
const SECRET_BYTES = 20;

function totp(secret: Uint8Array, label = '', issuer = ''): TOTP {
  return new TOTP({
    issuer,
    label,
    secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD_SECONDS,
  });
}

/** Where a user's TOTP secret is sealed (TenantSecretSeal): its ciphertext is bound to the user. */
export function totpPlace(userId: string): { kind: string; id: string } {
  return { kind: 'user-totp', id: userId };
}

/** Who an authenticator app says a tenant's key is from. */
export function totpIssuer(tenantSlug: string): string {
  return `Palisade ${tenantSlug}`;
}

/** A fresh random TOTP secret. */
export function newTotpSecret(): Uint8Array {
  return new Secret({ size: SECRET_BYTES }).bytes;
}

/** The secret as authenticator apps take it typed in (RFC 4648 base32). */
export function totpBase32(secret: Uint8Array): string {
  return new Secret({ buffer: Uint8Array.from(secret).buffer }).base32;
}

/** A secret `totpBase32` made, back to bytes; undefined for anything else. */
export function totpSecretFromBase32(text: string): Uint8Array | undefined {
  if (!/^[A-Z2-7]{32}$/.test(text)) return undefined;
  return Secret.fromBase32(text).bytes;
}

/** The `otpauth://` URI an authenticator app enrols from. */
export function totpUri(secret: Uint8Array, issuer: string, account: string): string {
  return totp(secret, account, issuer).toString();
}

/** The time step `code` is valid for at `now` (epoch ms, ± one step), or undefined. */
export function totpStep(secret: Uint8Array, code: string, now: number): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const delta = totp(secret).validate({ token: code, timestamp: now, window: WINDOW_STEPS });
  return delta === null
    ? undefined
    : TOTP.counter({ period: PERIOD_SECONDS, timestamp: now }) + delta;
}
