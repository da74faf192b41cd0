/**
 * SQLite tenant migration 22 and PostgreSQL shard migration 21 let an RPC request be
 * `delivered`; the requests stored before keep every field.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { uuid7 } from '../src/ids/index.ts';
import type { RpcRow } from '../src/store/index.ts';
import { migratePostgres } from '../src/store/postgres/postgres-migrate.ts';
import { migrateSqlite, openSqlite } from '../src/store/sqlite/sqlite-database.ts';
import { SqliteShardStore } from '../src/store/sqlite/sqlite-shard-store.ts';
import { TENANT_MIGRATIONS } from '../src/store/sqlite/tenant-migrations.ts';
import { shardBefore } from './support/shard-before.ts';

const CLAIMED = '2026-01-01T00:00:01.000Z';
const ACKNOWLEDGED = '2026-01-01T00:00:02.000Z';

function sentRequest(): RpcRow {
  return {
    id: uuid7(),
    deviceId: uuid7(),
    method: 'open',
    params: { valve: 1 },
    persistent: true,
    status: 'sent',
    response: null,
    error: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-01T01:00:00.000Z',
    updatedAt: CLAIMED,
  };
}

test('sqlite: a request stored before migration 22 is kept, and may become delivered', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'palisade-test-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const tenantId = uuid7();
  const row = sentRequest();
  const old = openSqlite(join(folder, `${tenantId}.db`));
  migrateSqlite(
    old,
    TENANT_MIGRATIONS.filter((m) => m.version <= 21),
  );
  old
    .prepare(
      `INSERT INTO rpc_requests (id, device_id, method, params, persistent, status, response,
         error, created_at, expires_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, NULL, NULL, ?, ?, ?)`,
    )
    .run(
      row.id,
      row.deviceId,
      row.method,
      JSON.stringify(row.params),
      row.status,
      row.createdAt,
      row.expiresAt,
      row.updatedAt,
    );
  old.close();
  const shard = new SqliteShardStore('s1', folder, 4);
  t.after(() => shard.close());
  const store = await shard.tenant(tenantId);
  assert.deepEqual(await store.reader.devices.getRpc(row.deviceId, row.id), row);
  const delivered = await store.transaction((tx) =>
    tx.devices.updateRpc(row.deviceId, row.id, ['sent'], { status: 'delivered' }, ACKNOWLEDGED),
  );
  assert.deepEqual(delivered, { ...row, status: 'delivered', updatedAt: ACKNOWLEDGED });
});

const adminUrl = process.env.PALISADE_TEST_POSTGRES_URL;

test('postgres: a request stored before shard migration 21 is kept, and may become delivered', {
  skip: adminUrl === undefined,
}, async (t) => {
  const { owner, migrations } = await shardBefore(t, adminUrl!, 21);
  const tenant = randomUUID();
  const row = { ...sentRequest(), id: randomUUID(), deviceId: randomUUID() };
  /** Runs `sql` in a transaction of the tenant (RLS is forced); its rows. */
  const asTenant = async (sql: string, values: unknown[]) => {
    await owner.query('BEGIN');
    await owner.query("SELECT set_config('app.tenant_id', $1, true)", [tenant]);
    try {
      return (await owner.query(sql, values)).rows;
    } finally {
      await owner.query('COMMIT');
    }
  };
  await asTenant(
    `INSERT INTO rpc_requests (tenant_id, id, device_id, method, params, persistent, status,
       created_at, expires_at, updated_at) VALUES ($1, $2, $3, $4, $5, true, $6, $7, $8, $9)`,
    [
      tenant,
      row.id,
      row.deviceId,
      row.method,
      JSON.stringify(row.params),
      row.status,
      row.createdAt,
      row.expiresAt,
      row.updatedAt,
    ],
  );
  await migratePostgres(owner, 'shard', migrations);
  const [updated] = await asTenant(
    `UPDATE rpc_requests SET status = 'delivered' WHERE tenant_id = $1 AND id = $2
     RETURNING status, method, params, updated_at`,
    [tenant, row.id],
  );
  assert.deepEqual(updated, {
    status: 'delivered',
    method: row.method,
    params: row.params,
    updated_at: new Date(CLAIMED),
  });
});
