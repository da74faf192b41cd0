import { randomBytes, scrypt, timingSafeEqual, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import {
  ACCEPTED_KEYS,
  acceptedKey,
  deviceCertificateRefusal,
  fingerprintOf,
  withinValidity,
} from '@palisade/crypto';
import { PalisadeError } from '../errors/index.ts';
import { hashSecretToken } from '../ids/index.ts';

/**
 * Device secrets. Access tokens and provisioning keys carry 256 random bits, so (like API
 * keys) only their SHA-256 is stored and looked up. MQTT passwords are chosen by people, so
 * they are stored as scrypt hashes and compared in constant time. Certificates are never
 * secrets: the index holds their SHA-256 fingerprint.
 */

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** scrypt cost (N = 2^14, r = 8, p = 1: OWASP's minimum, ~16 MiB and ~30 ms per check). */
const SCRYPT = { N: 16_384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const SCRYPT_KEY_BYTES = 32;
const SCRYPT_SALT_BYTES = 16;

export { ACCEPTED_KEYS, acceptedKey, fingerprintOf };

/** A new device access token (ThingsBoard's default credential), shown once. */
export function newDeviceToken(): string {
  return randomBytes(32).toString('base64url');
}

/** A new provisioning key, shown once. */
export function newProvisioningKey(): string {
  return `pv_${randomBytes(32).toString('base64url')}`;
}

export function tokenLookup(token: string): string {
  return `token:${hashSecretToken(token)}`;
}

export function provisioningLookup(key: string): string {
  return `prov:${hashSecretToken(key)}`;
}

export function mqttLookup(username: string): string {
  return `mqtt:${username}`;
}

export function certificateLookup(fingerprint: string): string {
  return `x509:${fingerprint}`;
}

/** `scrypt$N$r$p$salt$hash`, base64url. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const hash = await scryptAsync(password, salt, SCRYPT_KEY_BYTES, SCRYPT);
  return [
    'scrypt',
    SCRYPT.N,
    SCRYPT.r,
    SCRYPT.p,
    salt.toString('base64url'),
    hash.toString('base64url'),
  ].join('$');
}

/**
 * A hash at the current cost that no password matches (its key is random, not derived):
 * checking a user name nobody has against it costs what checking a registered one does.
 */
export function unmatchablePasswordHash(): string {
  return [
    'scrypt',
    SCRYPT.N,
    SCRYPT.r,
    SCRYPT.p,
    randomBytes(SCRYPT_SALT_BYTES).toString('base64url'),
    randomBytes(SCRYPT_KEY_BYTES).toString('base64url'),
  ].join('$');
}

/** Checks a password against a stored hash: `verifyPassword`, unless a test counts the calls. */
export type PasswordVerifier = (password: string, stored: string) => Promise<boolean>;

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return timingSafeEqual(actual, expected);
}

function checkKey(cert: X509Certificate, what: string): void {
  if (!acceptedKey(cert.publicKey))
    throw new PalisadeError(
      'PALISADE_CERTIFICATE_INVALID',
      `the ${what}'s ${cert.publicKey.asymmetricKeyType} key is not accepted: use ${ACCEPTED_KEYS}`,
    );
}

export function parseCertificate(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new PalisadeError('PALISADE_CERTIFICATE_INVALID', `the ${what} is not a PEM certificate`);
  }
}

/** A tenant CA: must be a CA certificate with an accepted key, within its validity. */
export function checkCa(pem: string, now: Date): X509Certificate {
  const cert = parseCertificate(pem, 'CA certificate');
  if (!cert.ca)
    throw new PalisadeError(
      'PALISADE_CERTIFICATE_INVALID',
      'the certificate is not a CA (basicConstraints CA:TRUE)',
    );
  checkKey(cert, 'CA certificate');
  checkValidity(cert, now);
  return cert;
}

function checkValidity(cert: X509Certificate, now: Date): void {
  if (!withinValidity(cert, now))
    throw new PalisadeError(
      'PALISADE_CERTIFICATE_INVALID',
      'the certificate is outside its validity period',
    );
}

/**
 * A device certificate: issued and signed by one of `cas` that is itself within its validity
 * (a certificate may outlive its CA) and has an accepted key; with an accepted key, within its
 * own validity, not a CA, and, when it names extended key usages, for TLS client authentication.
 */
export function checkDeviceCertificate(
  pem: string,
  cas: readonly string[],
  now: Date,
): X509Certificate {
  const cert = parseCertificate(pem, 'device certificate');
  const refusal = deviceCertificateRefusal(cert, cas, now);
  if (refusal !== undefined) throw new PalisadeError('PALISADE_CERTIFICATE_INVALID', refusal);
  return cert;
}
