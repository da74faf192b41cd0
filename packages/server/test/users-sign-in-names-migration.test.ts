/**
 * SQLite tenant migration 21 and PostgreSQL shard migration 20 drop the failed sign-ins kept
 * under a plain hash of the name (a list of tried addresses anyone could test guesses
 * against): counting starts again under the keyed names, on every tenant.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { uuid7 } from '../src/ids/index.ts';
import { migratePostgres } from '../src/store/postgres/postgres-migrate.ts';
import { migrateSqlite, openSqlite } from '../src/store/sqlite/sqlite-database.ts';
import { SqliteShardStore } from '../src/store/sqlite/sqlite-shard-store.ts';
import { TENANT_MIGRATIONS } from '../src/store/sqlite/tenant-migrations.ts';
import { shardBefore } from './support/shard-before.ts';

const PLAIN_KEY = 'a-plain-sha-256-of-a-tried-address-0000000';
const AT = '2026-01-01T00:00:00.000Z';

test('sqlite: the failed sign-ins kept under plain hashes are gone after migration 21', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'palisade-test-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const tenantId = uuid7();
  const old = openSqlite(join(folder, `${tenantId}.db`));
  migrateSqlite(
    old,
    TENANT_MIGRATIONS.filter((m) => m.version <= 20),
  );
  old
    .prepare('INSERT INTO sign_in_failures (name_key, failures, run_from) VALUES (?, 3, ?)')
    .run(PLAIN_KEY, AT);
  old.close();
  const shard = new SqliteShardStore('s1', folder, 4);
  t.after(() => shard.close());
  const store = await shard.tenant(tenantId);
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
