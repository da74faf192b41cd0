import { type KeyObject, randomBytes, scrypt, timingSafeEqual, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
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
/** Smallest RSA modulus accepted in a certificate or CSR (NIST SP 800-131A). */
const RSA_MIN_BITS = 2048;
const EC_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
/** The keys `acceptedKey` takes, as told to whoever offered another. */
export const ACCEPTED_KEYS = `ECDSA P-256, P-384 or P-521, Ed25519, or RSA of at least ${RSA_MIN_BITS} bits`;
/** id-kp-clientAuth (RFC 5280 4.2.1.12). */
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

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

/** A key TLS clients sign with, of a strength still accepted: see `ACCEPTED_KEYS`. */
export function acceptedKey(key: KeyObject): boolean {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  return (
    (type === 'ec' && EC_CURVES.has(String(details?.namedCurve))) ||
    type === 'ed25519' ||
    (type === 'rsa' && (details?.modulusLength ?? 0) >= RSA_MIN_BITS)
  );
}

function checkKey(cert: X509Certificate, what: string): void {
  if (!acceptedKey(cert.publicKey))
    throw new PalisadeError(
      'PALISADE_CERTIFICATE_INVALID',
      `the ${what}'s ${cert.publicKey.asymmetricKeyType} key is not accepted: use ${ACCEPTED_KEYS}`,
    );
}

/** Lower-case hex SHA-256 of a certificate's DER, as TLS stacks report it without colons. */
export function fingerprintOf(cert: X509Certificate): string {
  return cert.fingerprint256.replaceAll(':', '').toLowerCase();
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

function withinValidity(cert: X509Certificate, now: Date): boolean {
  return cert.validFromDate <= now && now <= cert.validToDate;
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
  checkKey(cert, 'device certificate');
  checkValidity(cert, now);
  if (cert.ca)
    throw new PalisadeError(
      'PALISADE_CERTIFICATE_INVALID',
      'a device certificate must not be a CA',
    );
  // Node names the extendedKeyUsage OIDs `keyUsage`; undefined when the extension is absent.
  if (cert.keyUsage !== undefined && !cert.keyUsage.includes(CLIENT_AUTH))
    throw new PalisadeError(
      'PALISADE_CERTIFICATE_INVALID',
      'the device certificate is not for TLS client authentication (extendedKeyUsage without clientAuth)',
    );
  const signed = cas.some((ca) => {
    const issuer = new X509Certificate(ca);
    return (
      withinValidity(issuer, now) &&
      acceptedKey(issuer.publicKey) &&
      cert.checkIssued(issuer) &&
      cert.verify(issuer.publicKey)
    );
  });
  if (!signed)
    throw new PalisadeError(
      'PALISADE_CERTIFICATE_INVALID',
      "the device certificate is not signed by any of the tenant's CA certificates within their validity",
    );
  return cert;
}
