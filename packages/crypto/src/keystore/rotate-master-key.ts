/**
 * Master key rotation: re-seal every tenant KEK seed under the new root key. Data keys and data
 * are untouched (they are wrapped to the KEK public keys, which do not change).
 *
 * A pure function over the records: the caller (the server) loads them, calls this, and
 * stores the result, in one transaction or record by record. It is idempotent: records already
 * sealed under `to`'s current key are returned as they are, so an interrupted rotation is
 * simply run again.
 */
import type { Kms } from '../kms/kms.ts';
import { type TenantKekRecord, tenantKekSealContext } from './tenant-kek.ts';

/**
 * Re-seals each record from `from` to `to`.
 * @param from - A KMS that can open the records (e.g. `LocalKms` with the old master key).
 * @param to - The KMS holding the new master key.
 * @returns records in the same order; unchanged ones are the same objects.
 */
export async function rotateMasterKey(
  records: readonly TenantKekRecord[],
  from: Kms,
  to: Kms,
): Promise<TenantKekRecord[]> {
  const out: TenantKekRecord[] = [];
  for (const record of records) {
    if (to.isCurrent(record.sealedSeed)) {
      out.push(record);
      continue;
    }
    const context = tenantKekSealContext(record);
    const seed = await from.open(context, record.sealedSeed);
    try {
      out.push({ ...record, sealedSeed: await to.seal(context, seed) });
    } finally {
      seed.fill(0);
    }
  }
  return out;
}
