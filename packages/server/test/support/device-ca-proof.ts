/**
 * Verification certificates for uploaded device CAs: a certificate the CA's key signs whose
 * subject CN is the tenant's registration code (`GET /v1/device-cas/registration-code`).
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, X509CertificateGenerator } from '@peculiar/x509';
import type { TestApi } from './api.ts';

const SIGNING = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const provider = webcrypto as unknown as NonNullable<
  Parameters<typeof X509CertificateGenerator.create>[1]
>;
const DAY_MS = 86_400_000;

/** The tenant's registration code, through the API. */
export async function registrationCodeOf(api: TestApi, key: string): Promise<string> {
  const reply = await api.call('GET', '/v1/device-cas/registration-code', key);
  if (reply.status !== 200) throw new Error(`registration code: ${JSON.stringify(reply.body)}`);
  return reply.body.registrationCode;
}

/** A verification certificate for `code`, signed with `caKey` (ECDSA P-256) as `caPem`. */
export async function verificationCertificate(options: {
  readonly caPem: string;
  readonly caKey: webcrypto.CryptoKey;
  readonly code: string;
}): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey(SIGNING, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await X509CertificateGenerator.create(
    {
      serialNumber: '02',
      subject: `CN=${options.code}`,
      issuer: new X509Certificate(options.caPem).subject,
      publicKey: keys.publicKey,
      signingKey: options.caKey,
      signingAlgorithm: SIGNING,
      notBefore: new Date(now - DAY_MS),
      notAfter: new Date(now + DAY_MS),
    },
    provider,
  );
  return cert.toString('pem');
}

/** The same with the openssl CLI, from the CA's files (`ca.pem`, `ca.key`) in `dir`. */
export function opensslVerificationCertificate(
  dir: string,
  code: string,
  files: { readonly cert: string; readonly key: string } = { cert: 'ca.pem', key: 'ca.key' },
): string {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run(
    ...['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
    ...['-keyout', 'verification.key', '-out', 'verification.csr', '-subj', `/CN=${code}`],
  );
  run(
    ...['x509', '-req', '-in', 'verification.csr', '-CA', files.cert, '-CAkey', files.key],
    ...['-CAcreateserial', '-out', 'verification.pem', '-days', '1'],
  );
  return readFileSync(join(dir, 'verification.pem'), 'utf8');
}
