/**
 * What makes a device's X.509 client certificate acceptable, shared by the platform's MQTT
 * listeners and an edge node's, so a device connects to either under the same rules.
 */
import { type KeyObject, X509Certificate } from 'node:crypto';

/** Smallest RSA modulus accepted in a certificate or CSR (NIST SP 800-131A). */
const RSA_MIN_BITS = 2048;
const EC_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
/** The keys `acceptedKey` takes, as told to whoever offered another. */
export const ACCEPTED_KEYS = `ECDSA P-256, P-384 or P-521, Ed25519, or RSA of at least ${RSA_MIN_BITS} bits`;
/** id-kp-clientAuth (RFC 5280 4.2.1.12). */
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

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

/** Lower-case hex SHA-256 of a certificate's DER, as TLS stacks report it without colons. */
export function fingerprintOf(cert: X509Certificate): string {
  return cert.fingerprint256.replaceAll(':', '').toLowerCase();
}

/** Whether `now` is within the certificate's validity. */
export function withinValidity(cert: X509Certificate, now: Date): boolean {
  return cert.validFromDate <= now && now <= cert.validToDate;
}

/**
 * Why a device certificate is refused, or undefined when it is accepted: it must carry an
 * accepted key, be within its validity, not be a CA, be for TLS client authentication when it
 * names extended key usages, and be issued and signed by one of `cas` that is itself within
 * its validity (a certificate may outlive its CA) with an accepted key.
 */
export function deviceCertificateRefusal(
  cert: X509Certificate,
  cas: readonly (string | X509Certificate)[],
  now: Date,
): string | undefined {
  if (!acceptedKey(cert.publicKey))
    return `the device certificate's ${cert.publicKey.asymmetricKeyType} key is not accepted: use ${ACCEPTED_KEYS}`;
  if (!withinValidity(cert, now)) return 'the certificate is outside its validity period';
  if (cert.ca) return 'a device certificate must not be a CA';
  // Node names the extendedKeyUsage OIDs `keyUsage`; undefined when the extension is absent.
  if (cert.keyUsage !== undefined && !cert.keyUsage.includes(CLIENT_AUTH))
    return 'the device certificate is not for TLS client authentication (extendedKeyUsage without clientAuth)';
  const signed = cas.some((ca) => {
    const issuer = typeof ca === 'string' ? new X509Certificate(ca) : ca;
    return (
      withinValidity(issuer, now) &&
      acceptedKey(issuer.publicKey) &&
      cert.checkIssued(issuer) &&
      cert.verify(issuer.publicKey)
    );
  });
  if (!signed)
    return "the device certificate is not signed by any of the tenant's CA certificates within their validity";
  return undefined;
}
