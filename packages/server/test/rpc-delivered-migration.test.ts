/**
 * SQLite tenant migration 22 and PostgreSQL shard migration 21 let an RPC request be
 * `delivered`; the requests stored before keep every field.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { uuid7 } from '../src/ids/index.ts';
import type { RpcRow } from '../src/store/index.ts';
import { migratePostgres } from '../src/store/postgres/postgres-migrate.ts';
import { asTenant, shardBefore, tenantFileBefore } from './support/shard-before.ts';

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
  const row = sentRequest();
  const { old, open } = tenantFileBefore(t, 22);
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
  const store = await open();
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
  await asTenant(
    owner,
    tenant,
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
    owner,
    tenant,
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
