/**
 * SQLite tenant migration 21 and PostgreSQL shard migration 20 drop the failed sign-ins kept
 * under a plain hash of the name (a list of tried addresses anyone could test guesses
 * against): counting starts again under the keyed names, on every tenant.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { migratePostgres } from '../src/store/postgres/postgres-migrate.ts';
import { shardBefore, tenantFileBefore } from './support/shard-before.ts';

const PLAIN_KEY = 'a-plain-sha-256-of-a-tried-address-0000000';
const AT = '2026-01-01T00:00:00.000Z';

test('sqlite: the failed sign-ins kept under plain hashes are gone after migration 21', async (t) => {
  const { old, open } = tenantFileBefore(t, 21);
  old
    .prepare('INSERT INTO sign_in_failures (name_key, failures, run_from) VALUES (?, 3, ?)')
    .run(PLAIN_KEY, AT);
  const store = await open();
  assert.deepEqual(await store.reader.users.getSignInFailures([PLAIN_KEY]), []);
});

const adminUrl = process.env.PALISADE_TEST_POSTGRES_URL;

test('postgres: every tenant’s failed sign-ins kept under plain hashes are gone after shard migration 20', {
  skip: adminUrl === undefined,
}, async (t) => {
  const { owner, migrations } = await shardBefore(t, adminUrl!, 20);
  const tenants = [randomUUID(), randomUUID()];
  /** The tenant's failure rows, as its own transaction sees them (RLS is forced). */
  const rows = async (tenant: string, insert = false) => {
    await owner.query('BEGIN');
    await owner.query("SELECT set_config('app.tenant_id', $1, true)", [tenant]);
    if (insert)
      await owner.query(
        `INSERT INTO sign_in_failures (tenant_id, name_key, failures, run_from)
         VALUES ($1, $2, 3, $3)`,
        [tenant, PLAIN_KEY, AT],
      );
    const { rowCount } = await owner.query('SELECT 1 FROM sign_in_failures');
    await owner.query('COMMIT');
    return rowCount;
  };
  for (const tenant of tenants) assert.equal(await rows(tenant, true), 1);
  await migratePostgres(owner, 'shard', migrations);
  for (const tenant of tenants) assert.equal(await rows(tenant), 0);
});
