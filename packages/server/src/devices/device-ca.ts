/**
 * X.509 for Palisade-generated device CAs (@peculiar/x509 on Node's WebCrypto): a tenant CA,
 * device certificates it signs from a CSR or from a key made here, and the CSR checks.
 *
 * Keys are ECDSA P-256 with SHA-256, which every TLS stack verifies for client certificates
 * (OpenSSL, mbedTLS, wolfSSL, BearSSL on devices); Ed25519 client certificates are not yet
 * handled by all of them. A CSR may carry any key a TLS client can sign with: ECDSA P-256,
 * P-384 or P-521, Ed25519, or RSA of at least 2048 bits.
 */
// tsyringe (behind @peculiar/x509) refuses to load without the Metadata Reflection API.
import 'reflect-metadata';
import { createPublicKey, type KeyObject, randomBytes, webcrypto } from 'node:crypto';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Pkcs10CertificateRequest,
  type PublicKey,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from '@peculiar/x509';
import { PalisadeError } from '../errors/index.ts';
import { ACCEPTED_KEYS, acceptedKey } from './device-credentials.ts';

const subtle = webcrypto.subtle;
/** Node's WebCrypto, as the provider type @peculiar/x509 declares. */
const provider = webcrypto as unknown as NonNullable<
  Parameters<typeof X509CertificateGenerator.create>[1]
>;
const SIGNING = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** A CA as generated: its certificate (PEM) and its PKCS#8 private key (zero it when done). */
export interface CaMaterial {
  readonly certificate: string;
  readonly privateKey: Uint8Array;
}

function invalidCsr(message: string): PalisadeError {
  return new PalisadeError('PALISADE_CERTIFICATE_INVALID', message);
}

/** Positive 128-bit serial, hex (RFC 5280 allows up to 20 octets). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return bytes.toString('hex');
}

/** From now for `days`, but never past `until` (a certificate ends when its CA does). */
function validity(days: number, until?: Date): { notBefore: Date; notAfter: Date } {
  const notBefore = new Date();
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  return { notBefore, notAfter: until !== undefined && until < notAfter ? until : notAfter };
}

/** A self-signed CA (path length 0: it signs device certificates only). */
export async function generateCa(commonName: string, validityDays: number): Promise<CaMaterial> {
  const keys = await subtle.generateKey(SIGNING, true, ['sign', 'verify']);
  const ca = await X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: [{ CN: [commonName] }],
      keys,
      signingAlgorithm: SIGNING,
      ...validity(validityDays),
      extensions: [
        new BasicConstraintsExtension(true, 0, true),
        new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
        await SubjectKeyIdentifierExtension.create(keys.publicKey, false, provider),
      ],
    },
    provider,
  );
  const privateKey = new Uint8Array(await subtle.exportKey('pkcs8', keys.privateKey));
  return { certificate: ca.toString('pem'), privateKey };
}

/** The public key of a CSR whose signature verifies and whose key type TLS clients use. */
export async function csrPublicKey(pem: string): Promise<PublicKey> {
  let csr: Pkcs10CertificateRequest;
  try {
    csr = new Pkcs10CertificateRequest(pem);
  } catch {
    throw invalidCsr('the csr is not a PEM PKCS#10 certificate request');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  } catch {
    throw invalidCsr("the csr's public key is of a kind this server cannot read");
  }
  if (!acceptedKey(key))
    throw invalidCsr(
      `the csr's ${key.asymmetricKeyType} key is not accepted: use ${ACCEPTED_KEYS}`,
    );
  const verified = await csr.verify(provider).catch(() => false);
  if (!verified)
    throw invalidCsr("the csr's signature does not verify: sign it with the key it carries");
  return csr.publicKey;
}

/** A new device key pair: the private key as PKCS#8 PEM (shown once) and the public key. */
export async function generateDeviceKey(): Promise<{
  privateKey: string;
  publicKey: webcrypto.CryptoKey;
}> {
  const keys = await subtle.generateKey(SIGNING, true, ['sign', 'verify']);
  const der = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  const body = der.toString('base64').replace(/.{64}/g, '$&\n');
  return {
    privateKey: `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`,
    publicKey: keys.publicKey,
  };
}

/**
 * A client certificate for `deviceId` signed by the CA: CN is the device id, TLS client use
 * only, valid for `validityDays` or until the CA's notAfter, whichever comes first.
 */
export async function issueDeviceCertificate(options: {
  readonly ca: CaMaterial;
  readonly publicKey: PublicKey | webcrypto.CryptoKey;
  readonly deviceId: string;
  readonly validityDays: number;
}): Promise<string> {
  const ca = new X509Certificate(options.ca.certificate);
  const signingKey = await subtle.importKey(
    'pkcs8',
    options.ca.privateKey,
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  const certificate = await X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: [{ CN: [options.deviceId] }],
      issuer: ca.subjectName,
      publicKey: options.publicKey,
      signingKey,
      signingAlgorithm: SIGNING,
      ...validity(options.validityDays, ca.notAfter),
      extensions: [
        new BasicConstraintsExtension(false, undefined, true),
        new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
        new ExtendedKeyUsageExtension([ExtendedKeyUsage.clientAuth], false),
        await AuthorityKeyIdentifierExtension.create(ca.publicKey, false, provider),
        await SubjectKeyIdentifierExtension.create(options.publicKey, false, provider),
      ],
    },
    provider,
  );
  return certificate.toString('pem');
}
