/**
 * Proof that whoever uploads a device CA holds its private key, as AWS IoT asks for one.
 *
 * A CA certificate is public: without a proof, any tenant could upload another's CA first and
 * then register that tenant's (equally public) device certificates onto its own devices. So an
 * uploaded CA must come with a verification certificate that the CA's key signed and whose
 * subject CN is the uploading tenant's registration code: only the key holder can make one, and
 * one made for a tenant proves nothing for another.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import { PalisadeError } from '../errors/index.ts';
import { parseCertificate } from './device-credentials.ts';

/** Domain-separates registration codes from every other hash of a tenant id. */
const REGISTRATION_LABEL = 'palisade/device-ca/registration-code/v1';

/**
 * The tenant's registration code: hex SHA-256 of a fixed label and the tenant id, 64
 * characters (the longest CN RFC 5280 allows). It is deliberately deterministic and not a
 * secret: its job is to bind a verification certificate to one tenant, and the proof rests on
 * the CA's private key, which only its holder can sign with.
 */
export function registrationCode(tenantId: string): string {
  return createHash('sha256').update(`${REGISTRATION_LABEL}\0${tenantId}`).digest('hex');
}

function unverified(message: string): PalisadeError {
  return new PalisadeError('PALISADE_DEVICE_CA_UNVERIFIED', message);
}

/** The subject's CNs, as Node prints them (one `CN=…` line each). */
function commonNames(cert: X509Certificate): string[] {
  return cert.subject
    .split('\n')
    .filter((line) => line.startsWith('CN='))
    .map((line) => line.slice(3));
}

/**
 * Checks that `pem` proves possession of `ca`'s private key for the tenant: an end-entity
 * certificate within its validity, issued and signed by `ca`, whose only CN is `code`.
 */
export function checkCaProof(
  pem: string | undefined,
  ca: X509Certificate,
  code: string,
  now: Date,
): void {
  if (pem === undefined)
    throw unverified(
      'an uploaded CA needs a verificationCertificate: a certificate its key signed whose CN is the tenant registration code (GET /v1/device-cas/registration-code)',
    );
  const cert = parseCertificate(pem, 'verification certificate');
  if (cert.ca) throw unverified('the verification certificate must not be a CA');
  if (!(cert.checkIssued(ca) && cert.verify(ca.publicKey)))
    throw unverified("the verification certificate is not issued and signed by the CA's key");
  if (now < cert.validFromDate || cert.validToDate < now)
    throw unverified('the verification certificate is outside its validity period');
  const names = commonNames(cert);
  if (names.length !== 1 || names[0] !== code)
    throw unverified(
      "the verification certificate's subject CN is not this tenant's registration code (GET /v1/device-cas/registration-code)",
    );
}
