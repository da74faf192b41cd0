import { createHash, X509Certificate } from 'node:crypto';

/**
 * SHA-256 of a CA certificate's SubjectPublicKeyInfo. The key, not the certificate, is what
 * a device certificate's signature verifies against: a copy of another tenant's CA subject
 * and key, signed by anyone, has a fingerprint of its own but vouches for the same devices.
 */
export function caKeyOf(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}
