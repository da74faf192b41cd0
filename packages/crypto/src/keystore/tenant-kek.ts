/**
 * Per-tenant key-encryption keys (KEKs): an X-Wing key pair per tenant and version. The public
 * key is stored in the clear (anyone may wrap to it); the 32-byte seed is sealed by the KMS,
 * bound to (purpose, tenant, KEK version, SHA-256 of the public key), so a record moved to
 * another tenant or version, or given a substituted public key, fails to open.
 *
 * Crypto-shredding a tenant = deleting its KEK records: every data key wrapped to them, and
 * so every copy of the tenant's encrypted fields, becomes unreadable.
 */
import { createHash } from 'node:crypto';
import { CryptoError } from '../errors.ts';
import { contextString, keyVersion, timingSafeEqualBytes } from '../internal/bytes.ts';
import { XWingSecretKey } from '../kem/xwing.ts';
import type { Kms, SealContext } from '../kms/kms.ts';

/** The seal purpose of tenant KEK seeds. */
export const TENANT_KEK_PURPOSE = 'palisade/tenant-kek';

/** A tenant KEK as stored: public key in the clear, seed sealed by the KMS. */
export interface TenantKekRecord {
  readonly tenantId: string;
  /** KEK version, 1..2^32-1. */
  readonly version: number;
  /** X-Wing public key, 1216 bytes. */
  readonly publicKey: Uint8Array;
  /** The 32-byte seed sealed by the KMS. */
  readonly sealedSeed: Uint8Array;
}

/** The seal context of a tenant KEK record. */
export function tenantKekSealContext(
  record: Pick<TenantKekRecord, 'tenantId' | 'version' | 'publicKey'>,
): SealContext {
  return {
    purpose: TENANT_KEK_PURPOSE,
    tenantId: record.tenantId,
    keyVersion: record.version,
    binding: createHash('sha256').update(record.publicKey).digest(),
  };
}

/**
 * Creates a tenant KEK: a fresh X-Wing key pair whose seed the KMS seals.
 * @returns the record to store, and the open secret key (destroy it when done).
 */
export async function createTenantKek(
  kms: Kms,
  tenantId: string,
  version: number,
): Promise<{ record: TenantKekRecord; secretKey: XWingSecretKey }> {
  contextString('tenantId', tenantId);
  keyVersion('version', version);
  const secretKey = XWingSecretKey.generate();
  const seed = secretKey.exportSeed();
  try {
    const unsealed = { tenantId, version, publicKey: secretKey.publicKey };
    const sealedSeed = await kms.seal(tenantKekSealContext(unsealed), seed);
    return { record: { ...unsealed, sealedSeed }, secretKey };
  } catch (error) {
    secretKey.destroy();
    throw error;
  } finally {
    seed.fill(0);
  }
}

/**
 * Opens a tenant KEK record with the KMS and checks that the seed yields the stored public key.
 * @throws CryptoError from the KMS (`CRYPTO_DECRYPT_FAILED`, `CRYPTO_BAD_MASTER_KEY`…), or
 *   `CRYPTO_BAD_KEY` when the seed and the public key disagree.
 */
export async function openTenantKek(kms: Kms, record: TenantKekRecord): Promise<XWingSecretKey> {
  const seed = await kms.open(tenantKekSealContext(record), record.sealedSeed);
  let secretKey: XWingSecretKey;
  try {
    secretKey = XWingSecretKey.fromSeed(seed);
  } finally {
    seed.fill(0);
  }
  if (!timingSafeEqualBytes(secretKey.publicKey, record.publicKey)) {
    secretKey.destroy();
    throw new CryptoError(
      'CRYPTO_BAD_KEY',
      `tenant KEK version ${record.version} does not match its stored public key`,
    );
  }
  return secretKey;
}
