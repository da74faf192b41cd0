/**
 * A dropped tenant stays dropped against every writer: once its drop has committed, no write
 * transaction of it commits, whether its store was taken before the drop or after it, by the
 * shard store that dropped it, by another one over the same shard (another process, on
 * PostgreSQL), or by one opened later (a restart). Such a write is refused
 * PALISADE_TENANT_DELETED before it writes anything, and nothing of the tenant is left or
 * read through such a store (SQLite refuses the read too). On
 * PostgreSQL a drop also waits for a write of the tenant under way in another process, then
 * removes what it wrote. SQLite files belong to one process (data-folder-lock.ts): there the
 * writer of a store taken before the drop is the dropping shard store's own.
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { uuid7 } from '../src/ids/index.ts';
import {
  openStores,
  type ShardStore,
  type Stores,
  type TenantWriteTx,
} from '../src/store/index.ts';
import { asRole, type PostgresShardStore } from '../src/store/postgres/postgres-shard-store.ts';
import { type BackendName, backendNames, openBackend } from './support/backends.ts';
import { tenantLeftovers } from './support/tenant-leftovers.ts';

async function writeNote(tx: TenantWriteTx, n: number): Promise<void> {
  const at = new Date().toISOString();
  if ((await tx.getCollection('notes')) === undefined)
    await tx.putCollection({
      name: 'notes',
      schema: { type: 'object' },
      encrypted: [],
      version: 1,
      createdAt: at,
      updatedAt: at,
    });
  await tx.insertRecord({
    collection: 'notes',
    id: uuid7(),
    data: { n, text: 'plain, readable by whoever reads the shard' },
    version: 1,
    createdAt: at,
    updatedAt: at,
  });
}

/**
 * Fresh stores for one test, and shard `s1` of each opening of them (as another process, or a
 * restart, opens them); all closed, then removed, after the test.
 */
async function backendFor(t: TestContext, backend: BackendName) {
  const fixture = await openBackend(backend);
  const opened: Stores[] = [];
  t.after(async () => {
    for (const stores of opened) await stores.close();
    await fixture.cleanup();
  });
  return async (): Promise<ShardStore> => {
    const stores = await openStores(fixture.settings);
    opened.push(stores);
    return stores.shards.get('s1')!;
  };
}

for (const backend of backendNames()) {
  describe(`writes of a dropped tenant on ${backend}`, () => {
    test('a store taken before the drop cannot write after it, nor can a shard store opened after it', async (t) => {
      const open = await backendFor(t, backend);
      const dropping = await open();
      const writing = backend === 'postgres' ? await open() : dropping;
      const tenantId = uuid7();
      const store = await writing.tenant(tenantId);
      await store.transaction((tx) => writeNote(tx, 1));

      await dropping.dropTenant(tenantId);
      await assert.rejects(
        store.transaction((tx) => writeNote(tx, 2)),
        { code: 'PALISADE_TENANT_DELETED' },
        'a store taken before the drop',
      );
      assert.deepEqual(await tenantLeftovers(dropping.location, tenantId), []);
      // A read through that store finds nothing either: SQLite refuses it (its file is gone),
      // PostgreSQL reads no row (reads take no lock, and the rows went with the drop).
      const read = store.reader.getCollection('notes');
      if (backend === 'sqlite') await assert.rejects(read, { code: 'PALISADE_TENANT_DELETED' });
      else assert.equal(await read, undefined);

      const later = await open();
      await assert.rejects(
        later.tenant(tenantId).then((again) => again.transaction((tx) => writeNote(tx, 3))),
        { code: 'PALISADE_TENANT_DELETED' },
        'a shard store opened after the drop',
      );
      assert.deepEqual(await tenantLeftovers(dropping.location, tenantId), []);
    });
  });
}

/** Resolves once a session of the database at `url` waits for an advisory lock. */
async function advisoryLockWaited(url: string, stop: AbortSignal): Promise<void> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    while (!stop.aborted) {
      const waiting = await db.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
           AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
      );
      if (waiting.rowCount !== 0) return;
      await sleep(10);
    }
  } finally {
    await db.end();
  }
}

/** A session of the runtime role on a shard from which `tenantId` was dropped. */
async function runtimeAfterDrop(t: TestContext, tenantId: string): Promise<pg.Client> {
  const shard = await (await backendFor(t, 'postgres'))();
  await shard.dropTenant(tenantId);
  const runtime = new pg.Client({
    connectionString: asRole(shard.location, (shard as PostgresShardStore).runtimeRole),
  });
  await runtime.connect();
  return runtime;
}

describe('a drop racing a write in another process on postgres', {
  skip: !backendNames().includes('postgres'),
}, () => {
  test("the runtime role may read its tenant's tombstone, never remove or write one", async (t) => {
    const tenantId = uuid7();
    const runtime = await runtimeAfterDrop(t, tenantId);
    try {
      await runtime.query(`BEGIN; SELECT set_config('app.tenant_id', '${tenantId}', true)`);
      const seen = await runtime.query('SELECT tenant_id FROM dropped_tenants');
      assert.deepEqual(seen.rows, [{ tenant_id: tenantId }]);
      await runtime.query('ROLLBACK');
      for (const sql of [
        'DELETE FROM dropped_tenants',
        `INSERT INTO dropped_tenants (tenant_id) VALUES ('${uuid7()}')`,
      ])
        await assert.rejects(runtime.query(sql), /permission denied/, sql);
    } finally {
      await runtime.end();
    }
  });

  test('a temporary table of the same name does not hide a tombstone from the write check', async (t) => {
    const tenantId = uuid7();
    const runtime = await runtimeAfterDrop(t, tenantId);
    try {
      // Temporary tables come first in a session's search path unless a function pins it.
      await runtime.query('CREATE TEMPORARY TABLE dropped_tenants (tenant_id uuid)');
      const opened = (await runtime.query(
        `BEGIN; SELECT palisade_write_tenant('${tenantId}') AS live`,
      )) as unknown as pg.QueryResult[];
      assert.equal(opened.at(-1)?.rows[0]?.live, false, 'the tenant is still seen dropped');
      await runtime.query('ROLLBACK');
    } finally {
      await runtime.end();
    }
  });

  test('the drop waits for the write under way, then removes what it wrote', async (t) => {
    const open = await backendFor(t, 'postgres');
    const dropping = await open();
    const writing = await open();
    const tenantId = uuid7();
    const store = await writing.tenant(tenantId);
    const { promise: written, resolve: wrote } = Promise.withResolvers<void>();
    const { promise: released, resolve: release } = Promise.withResolvers<void>();
    const write = store.transaction(async (tx) => {
      await writeNote(tx, 1);
      wrote();
      await released;
    });
    await written;

    const drop = dropping.dropTenant(tenantId);
    const stop = new AbortController();
    const first = await Promise.race([
      drop.then(() => 'dropped'),
      advisoryLockWaited(dropping.location, stop.signal).then(() => 'waiting'),
    ]);
    stop.abort();
    release();
    await write;
    await drop;
    assert.equal(first, 'waiting', 'the drop waited for the write under way');
    assert.deepEqual(await tenantLeftovers(dropping.location, tenantId), []);
  });
});
