import type pg from 'pg';

/** What a per-tenant count lock guards; each kind has a lock of its own. */
export type CountedKind = 'devices' | 'collections';

/** Fixed prefix of the lock names, so these keys stay apart from any other advisory lock. */
const LOCK_PREFIX = 'palisade.plan-cap';

/**
 * Takes the transaction-scoped advisory lock of one tenant's count of `kind`, held until the
 * transaction ends. Two processes creating a tenant's devices then count and insert one after
 * the other. The key is a 64-bit hash, computed by the server (`hashtextextended`), of the
 * prefix, the tenant id and the kind; a collision only makes two tenants wait for each other.
 * Both functions are executable by PUBLIC, so the runtime role needs no grant.
 *
 * The count must run as a later statement than this one: under READ COMMITTED (the server
 * default, which the shard transactions use) each statement sees what was committed when it
 * began, so only a statement after the lock sees the previous holder's insert.
 */
export async function lockCount(
  db: Pick<pg.PoolClient, 'query'>,
  tenantId: string,
  kind: CountedKind,
): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
    `${LOCK_PREFIX}:${tenantId}:${kind}`,
  ]);
}
