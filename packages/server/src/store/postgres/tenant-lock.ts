import type pg from 'pg';

/**
 * What a per-tenant lock guards, each its own lock: a count checked against a plan's cap (and,
 * for collections, every change of a collection definition), the end of the tenant's ledger,
 * where the next batch is appended, or the tenant's being in the shard at all (`live`: every
 * write transaction holds it shared, a drop exclusively).
 */
export type TenantLockName = 'devices' | 'collections' | 'ledger' | 'live';

/**
 * Fixed prefix of the lock keys, so they stay apart from any other advisory lock. Shard
 * migration 24 (`palisade_write_tenant`) spells the `live` key out too: it never changes.
 */
const LOCK_PREFIX = 'palisade.tenant-lock';

/**
 * Takes a transaction-scoped advisory lock of one tenant, held until the transaction ends:
 * transactions of several processes that take it run what follows one after the other. The
 * key is a 64-bit hash, computed by the server (`hashtextextended`), of the prefix, the
 * tenant id and the name; a collision only makes two tenants wait for each other. Both
 * functions are executable by PUBLIC, so the runtime role needs no grant.
 *
 * What the lock guards must be read by a later statement than this one: under READ
 * COMMITTED (the server default, which the shard transactions use) each statement sees what
 * was committed when it began, so only a statement after the lock sees the previous holder's
 * writes.
 */
export async function lockTenant(
  db: Pick<pg.PoolClient, 'query'>,
  tenantId: string,
  name: TenantLockName,
): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
    tenantLockKey(tenantId, name),
  ]);
}

/** The text a tenant lock's key is hashed from (the tenant id is a UUID, safe to inline). */
export function tenantLockKey(tenantId: string, name: TenantLockName): string {
  return `${LOCK_PREFIX}:${tenantId}:${name}`;
}
