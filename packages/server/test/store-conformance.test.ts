import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GroupCommitter } from '../src/commit/index.ts';
import { PalisadeError } from '../src/errors/index.ts';
import { uuid7 } from '../src/ids/index.ts';
import { sealBatch } from '../src/ledger/seal-batch.ts';
import type {
  CollectionRow,
  DeviceRow,
  RecordRow,
  RpcChange,
  RpcRow,
  RpcStatus,
  ShardStore,
  TenantStore,
  TenantWriteTx,
} from '../src/store/index.ts';
import { openStores, type Stores } from '../src/store/index.ts';
import { SqliteTenantStore } from '../src/store/sqlite/sqlite-tenant-store.ts';
import type { Tenant } from '../src/tenancy/index.ts';
import { type BackendFixture, backendNames, openBackend } from './support/backends.ts';
import { tenantLeftovers } from './support/tenant-leftovers.ts';

const now = () => new Date().toISOString();

function tenantRow(slug: string, shard: string): Tenant {
  const t = now();
  return {
    id: uuid7(),
    slug,
    name: slug,
    plan: 'free',
    status: 'active',
    shard,
    createdAt: t,
    updatedAt: t,
  };
}

function collection(name: string, version = 1): CollectionRow {
  const t = now();
  return { name, schema: { type: 'object' }, encrypted: [], version, createdAt: t, updatedAt: t };
}

function record(collectionName: string, data: Record<string, unknown>): RecordRow {
  const t = now();
  return { collection: collectionName, id: uuid7(), data, version: 1, createdAt: t, updatedAt: t };
}

function device(name: string, edgeNodeId: string | null): DeviceRow {
  const t = now();
  return {
    id: uuid7(),
    name,
    type: 'default',
    labels: [],
    attributes: {},
    clientAttributes: {},
    telemetryKeys: null,
    isGateway: false,
    gatewayId: null,
    edgeNodeId,
    version: 1,
    createdAt: t,
    updatedAt: t,
  };
}

/** A fixed instant, `s` seconds into 2026 (UTC), as stores return it. */
const instant = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

for (const backend of backendNames()) {
  describe(`storage conformance on ${backend}`, () => {
    let fixture: BackendFixture;
    let stores: Stores;
    let shard: ShardStore;

    before(async () => {
      fixture = await openBackend(backend);
      stores = await openStores(fixture.settings);
      shard = stores.shards.get('s1')!;
    });
    after(async () => {
      await stores.close();
      await fixture.cleanup();
    });

    test('control plane: tenants, unique slugs, paging, updates', async () => {
      const cp = stores.controlPlane;
      const a = tenantRow('conf-a', 's1');
      const b = tenantRow('conf-b', 's2');
      await cp.insertTenant(a);
      await cp.insertTenant(b);
      await assert.rejects(
        cp.insertTenant({ ...tenantRow('conf-a', 's1') }),
        (e) => e instanceof PalisadeError && e.code === 'PALISADE_SLUG_TAKEN',
      );
      assert.deepEqual(await cp.getTenant(a.id), a);
      assert.equal(await cp.getTenant(uuid7()), undefined);
      const first = await cp.listTenants({ after: undefined, limit: 1 });
      assert.deepEqual(
        first.map((t) => t.id),
        [a.id],
      );
      const second = await cp.listTenants({ after: a.id, limit: 10 });
      assert.deepEqual(
        second.map((t) => t.id),
        [b.id],
      );
      const suspended = await cp.updateTenant(a.id, { status: 'suspended' }, now());
      assert.equal(suspended?.status, 'suspended');
      assert.equal(suspended?.name, a.name);
      assert.equal(await cp.updateTenant(uuid7(), { name: 'x' }, now()), undefined);
    });

    test('control plane: the least-loaded shard ignores deleted tenants', async () => {
      const cp = stores.controlPlane;
      const counts = new Map<string, number>();
      for (const t of await cp.listTenants({ after: undefined, limit: 100 })) {
        if (t.status !== 'deleted') counts.set(t.shard, (counts.get(t.shard) ?? 0) + 1);
      }
      const expected = [...stores.shards.keys()].sort(
        (x, y) => (counts.get(x) ?? 0) - (counts.get(y) ?? 0) || x.localeCompare(y),
      )[0];
      const open = [...stores.shards.keys()];
      assert.equal(await cp.leastLoadedShard(open), expected);
      const extra = tenantRow('conf-load', expected!);
      await cp.insertTenant(extra);
      await cp.updateTenant(extra.id, { status: 'deleted' }, now());
      assert.equal(await cp.leastLoadedShard(open), expected);
    });

    test('control plane: the least-loaded shard is one of those asked about', async () => {
      const cp = stores.controlPlane;
      await cp.registerShards([{ id: 'a-elsewhere', location: '/nowhere' }]);
      assert.equal(await cp.leastLoadedShard(['s2']), 's2', 'not the emptier a-elsewhere');
      assert.equal(await cp.leastLoadedShard(['s1', 'never-registered']), 's1');
      assert.equal(await cp.leastLoadedShard(['never-registered']), undefined);
      assert.equal(await cp.leastLoadedShard([]), undefined);
    });

    test('control plane: credentials resolve by hash until revoked', async () => {
      const cp = stores.controlPlane;
      const t = tenantRow('conf-keys', 's1');
      await cp.insertTenant(t);
      await cp.setAdminTokenHash('admin-hash');
      assert.deepEqual(await cp.findCredential('admin-hash'), { kind: 'admin' });
      const keyId = uuid7();
      await cp.insertApiKey({
        id: keyId,
        tenantId: t.id,
        name: 'k',
        secretHash: 'key-hash',
        roles: ['viewer', 'auditor'],
        createdAt: now(),
        revokedAt: null,
      });
      const found = await cp.findCredential('key-hash');
      assert.equal(found?.kind, 'api-key');
      assert.equal(found?.kind === 'api-key' ? found.tenant.id : '', t.id);
      assert.deepEqual(found?.kind === 'api-key' ? found.roles : [], ['viewer', 'auditor']);
      assert.deepEqual((await cp.listApiKeys(t.id))[0]?.roles, ['viewer', 'auditor']);
      assert.equal(
        await cp.revokeApiKey(uuid7(), keyId, now()),
        false,
        'another tenant cannot revoke it',
      );
      assert.equal(await cp.revokeApiKey(t.id, keyId, now()), true);
      assert.equal(await cp.revokeApiKey(t.id, keyId, now()), false);
      assert.equal(await cp.findCredential('key-hash'), undefined);
      assert.equal((await cp.listApiKeys(t.id))[0]?.revokedAt !== null, true);
      await cp.setAdminTokenHash('admin-hash-2');
      assert.equal(await cp.findCredential('admin-hash'), undefined);
    });

    describe('tenant data', () => {
      let a: TenantStore;
      let b: TenantStore;
      before(async () => {
        a = await shard.tenant(uuid7());
        b = await shard.tenant(uuid7());
      });

      test('ledger: transactions sealing at once (as on two processes) append one batch each', async () => {
        const c = await shard.tenant(uuid7());
        const tenantId = c.tenantId;
        // Both read the head before either appends: without a lock they take the same batch.
        const seal = (resource: string) =>
          c.transaction((tx) =>
            sealBatch(tx, tenantId, [{ actor: 'test', action: 'x', resource, state: null }]),
          );
        await Promise.all([seal('r/1'), seal('r/2'), seal('r/3')]);
        const head = await c.reader.ledgerHead();
        assert.deepEqual({ ...head }, { size: 3, nextSeq: 3 });
        assert.deepEqual(
          (await c.reader.ledgerBatches(0, 3)).map((row) => row.batch),
          [0, 1, 2],
        );
      });

      test('collections: put, replace, list by pages', async () => {
        await a.transaction(async (tx) => tx.putCollection(collection('people')));
        await a.transaction(async (tx) =>
          tx.putCollection({ ...collection('people', 2), schema: { type: 'object', title: 'v2' } }),
        );
        await a.transaction(async (tx) => tx.putCollection(collection('notes')));
        const people = await a.reader.getCollection('people');
        assert.equal(people?.version, 2);
        assert.deepEqual(people?.schema, { type: 'object', title: 'v2' });
        assert.deepEqual(
          (await a.reader.listCollections({ after: undefined, limit: 100 })).map((c) => c.name),
          ['notes', 'people'],
        );
        assert.deepEqual(await b.reader.listCollections({ after: undefined, limit: 100 }), []);
        const page = async (after: string | undefined) =>
          (await a.reader.listCollections({ after, limit: 1 })).map((c) => c.name);
        assert.deepEqual(
          [await page(undefined), await page('notes'), await page('people'), await page('n')],
          [['notes'], ['people'], [], ['notes']],
          'a page at a time, after a name',
        );
      });

      test('counts of devices and collections are per tenant; the count locks write nothing', async () => {
        const c = await shard.tenant(uuid7());
        const d = await shard.tenant(uuid7());
        await c.transaction(async (tx) => {
          await tx.putCollection(collection('one'));
          await tx.putCollection(collection('two'));
          await tx.devices.insertDevice(device('meter', null));
        });
        await d.transaction(async (tx) => tx.putCollection(collection('one')));
        assert.equal(await c.reader.countCollections(), 2);
        assert.equal(await c.reader.devices.countDevices(), 1);
        assert.equal(await d.reader.countCollections(), 1);
        assert.equal(await d.reader.devices.countDevices(), 0);
        const locked = await c.transaction(async (tx) => {
          const before = tx.writeCount();
          const counts = [await tx.lockCollectionCount(), await tx.devices.lockDeviceCount()];
          assert.equal(
            tx.writeCount(),
            before,
            'a refusal after the lock is a refusal before writing',
          );
          await tx.devices.insertDevice(device('second', null));
          return [...counts, await tx.devices.lockDeviceCount()];
        });
        assert.deepEqual(
          locked,
          [2, 1, 2],
          'a lock taken again in its transaction counts its own writes',
        );
      });

      test('devices and RPC requests read back as written, JSON strings included', async () => {
        const c = await shard.tenant(uuid7());
        const gateway: DeviceRow = {
          ...device('gw', null),
          labels: ['roof'],
          attributes: { floor: 3 },
          clientAttributes: { fw: '1.2' },
          telemetryKeys: ['temp'],
          isGateway: true,
        };
        const rpc = {
          id: uuid7(),
          deviceId: gateway.id,
          method: 'echo',
          params: 'a JSON string',
          persistent: true,
          status: 'queued' as const,
          response: null,
          error: null,
          createdAt: instant(1),
          expiresAt: instant(60),
          updatedAt: instant(1),
        };
        await c.transaction(async (tx) => {
          await tx.devices.insertDevice(gateway);
          await tx.devices.insertRpc(rpc);
        });
        assert.deepEqual(await c.reader.devices.getDevice(gateway.id), gateway);
        assert.deepEqual(await c.reader.devices.getRpc(gateway.id, rpc.id), rpc);
        const answered = await c.transaction((tx) =>
          tx.devices.updateRpc(
            gateway.id,
            rpc.id,
            ['queued'],
            { status: 'succeeded', response: '"quoted"' },
            instant(2),
          ),
        );
        assert.deepEqual(answered, {
          ...rpc,
          status: 'succeeded',
          response: '"quoted"',
          updatedAt: instant(2),
        });
      });

      test('a transaction reads the collection as last committed, never a rolled-back one', async () => {
        const read = () => a.transaction(async (tx) => tx.getCollection('drafts'));
        await a.transaction(async (tx) => tx.putCollection(collection('drafts')));
        assert.equal((await read())?.version, 1);
        await assert.rejects(
          a.transaction(async (tx) => {
            await tx.putCollection({ ...collection('drafts', 2), schema: { title: 'v2' } });
            assert.equal((await tx.getCollection('drafts'))?.version, 2);
            throw new Error('boom');
          }),
          /boom/,
        );
        assert.equal((await read())?.version, 1);
        await a.transaction(async (tx) =>
          tx.putCollection({ ...collection('drafts', 3), schema: { title: 'v3' } }),
        );
        assert.deepEqual((await read())?.schema, { title: 'v3' });
        assert.equal(await a.transaction(async (tx) => tx.getCollection('absent')), undefined);
      });

      test('a group-committed write that refuses after writing leaves nothing; its neighbours commit', async () => {
        const committer = new GroupCommitter({
          maxBatch: 100,
          maxWaitMs: 0,
          seal: async () => undefined,
        });
        await a.transaction(async (tx) => tx.putCollection(collection('refusals')));
        const [kept, half, other] = [0, 1, 2].map((n) => record('refusals', { n }));
        const insert = (row: RecordRow) => (tx: TenantWriteTx) => tx.insertRecord(row);
        const results = await Promise.allSettled([
          committer.submit(a, insert(kept!)),
          committer.submit(a, async (tx) => {
            await tx.insertRecord(half!);
            throw new PalisadeError('PALISADE_PRECONDITION_FAILED', 'refused after writing');
          }),
          committer.submit(a, insert(other!)),
        ]);
        assert.deepEqual(
          results.map((r) => (r.status === 'rejected' ? (r.reason as PalisadeError).code : 'ok')),
          ['ok', 'PALISADE_PRECONDITION_FAILED', 'ok'],
        );
        assert.equal((await a.reader.getRecord('refusals', kept!.id))?.version, 1);
        assert.equal(await a.reader.getRecord('refusals', half!.id), undefined);
        assert.equal((await a.reader.getRecord('refusals', other!.id))?.version, 1);
      });

      test('a read started after a commit sees it, even in the turn of an earlier read', async () => {
        // No macrotask between these steps: a store that caches or shares read state must
        // still not serve a read from before a commit.
        const row = record('people', { name: 'Grace' });
        assert.equal(await a.reader.getRecord('people', row.id), undefined);
        await a.transaction(async (tx) => tx.insertRecord(row));
        assert.equal((await a.reader.getRecord('people', row.id))?.version, 1);
        await a.transaction((tx) => tx.updateRecord('people', row.id, { name: 'G' }, 1, now()));
        assert.equal((await a.reader.getRecord('people', row.id))?.version, 2);
        await a.transaction((tx) => tx.deleteRecord('people', row.id, 2));
        assert.equal(await a.reader.getRecord('people', row.id), undefined);
      });

      test('records: insert, read, conditional update and delete', async () => {
        const row = record('people', { name: 'Ada', age: 36 });
        await a.transaction(async (tx) => tx.insertRecord(row));
        assert.deepEqual((await a.reader.getRecord('people', row.id))?.data, {
          name: 'Ada',
          age: 36,
        });
        assert.equal(await b.reader.getRecord('people', row.id), undefined);
        const stale = await a.transaction((tx) =>
          tx.updateRecord('people', row.id, { name: 'X' }, 7, now()),
        );
        assert.deepEqual(stale, { ok: false, reason: 'version-mismatch' });
        const missing = await a.transaction((tx) =>
          tx.updateRecord('people', uuid7(), { name: 'X' }, undefined, now()),
        );
        assert.deepEqual(missing, { ok: false, reason: 'not-found' });
        const updated = await a.transaction((tx) =>
          tx.updateRecord('people', row.id, { name: 'Ada L' }, 1, now()),
        );
        assert.equal(updated.ok && updated.row.version, 2);
        const fromB = await b.transaction((tx) => tx.deleteRecord('people', row.id, undefined));
        assert.deepEqual(fromB, { ok: false, reason: 'not-found' });
        assert.deepEqual(await a.transaction((tx) => tx.deleteRecord('people', row.id, 1)), {
          ok: false,
          reason: 'version-mismatch',
        });
        const deleted = await a.transaction((tx) => tx.deleteRecord('people', row.id, 2));
        assert.equal(deleted.ok, true);
        assert.equal(await a.reader.getRecord('people', row.id), undefined);
      });

      test('records: listing is ordered by id, paged after a key, filtered by typed equality', async () => {
        const rows = [
          record('notes', { n: 1, tag: 'x', ok: true, nothing: null }),
          record('notes', { n: 2, tag: 'y', ok: false }),
          record('notes', { n: 1.5, tag: 'x', ok: true }),
          record('notes', { n: '1', tag: 'x' }),
        ];
        await a.transaction(async (tx) => {
          for (const row of rows) await tx.insertRecord(row);
        });
        const all = await a.reader.listRecords('notes', {
          after: undefined,
          limit: 10,
          filters: [],
        });
        assert.deepEqual(
          all.map((r) => r.id),
          rows.map((r) => r.id),
        );
        const page = await a.reader.listRecords('notes', {
          after: rows[1]!.id,
          limit: 1,
          filters: [],
        });
        assert.deepEqual(
          page.map((r) => r.id),
          [rows[2]!.id],
        );
        const list = (filters: { field: string; value: string | number | boolean | null }[]) =>
          a.reader
            .listRecords('notes', { after: undefined, limit: 10, filters })
            .then((r) => r.map((x) => x.data.n));
        assert.deepEqual(await list([{ field: 'tag', value: 'x' }]), [1, 1.5, '1']);
        assert.deepEqual(
          await list([{ field: 'n', value: 1 }]),
          [1],
          'number 1 does not match string "1"',
        );
        assert.deepEqual(await list([{ field: 'n', value: '1' }]), ['1']);
        assert.deepEqual(
          await list([
            { field: 'ok', value: true },
            { field: 'tag', value: 'x' },
          ]),
          [1, 1.5],
        );
        assert.deepEqual(await list([{ field: 'ok', value: false }]), [2]);
        assert.deepEqual(
          await list([{ field: 'nothing', value: null }]),
          [1],
          'null matches only an explicit null',
        );
        const among = (ids: string[]) =>
          a.reader
            .listRecords('notes', {
              after: rows[0]!.id,
              limit: 10,
              filters: [{ field: 'tag', value: 'x' }],
              ids,
            })
            .then((r) => r.map((x) => x.id));
        assert.deepEqual(
          await among([rows[3]!.id, rows[0]!.id, rows[1]!.id, rows[2]!.id, uuid7()]),
          [rows[2]!.id, rows[3]!.id],
          'ids narrow the page, after the key and with the filters',
        );
        assert.deepEqual(await among([]), []);
        assert.deepEqual(
          await b.reader.listRecords('notes', { after: undefined, limit: 10, filters: [] }),
          [],
        );
      });

      test('a failed transaction leaves nothing behind', async () => {
        const row = record('notes', { n: 99 });
        await assert.rejects(
          a.transaction(async (tx) => {
            await tx.insertRecord(row);
            throw new Error('boom');
          }),
          /boom/,
        );
        assert.equal(await a.reader.getRecord('notes', row.id), undefined);
      });

      test('what waits for a commit runs once the transaction committed, never after a rollback', async () => {
        const ran: string[] = [];
        await a.transaction(async (tx) => {
          tx.afterCommit(() => ran.push('committed'));
          assert.deepEqual(ran, []);
        });
        await assert.rejects(
          a.transaction(async (tx) => {
            tx.afterCommit(() => ran.push('rolled back'));
            throw new Error('boom');
          }),
          /boom/,
        );
        await a.transaction(async () => undefined);
        assert.deepEqual(ran, ['committed']);
      });

      test('encryption reservations add up to their limit, never past it; a rolled-back one is gone', async () => {
        const c = await shard.tenant(uuid7());
        const key = {
          keyId: 'fields',
          version: 1,
          kekVersion: 1,
          wrapped: new Uint8Array(8),
          sealedSecret: null,
          state: 'active' as const,
          encryptions: 2,
          createdAt: '2026-01-01T00:00:00.000Z',
          retiredAt: null,
        };
        await c.transaction((tx) => tx.keys.insertDataKey(key));
        const reserve = (count: number) =>
          c.transaction((tx) => tx.keys.reserveEncryptions('fields', 1, count, 10));
        assert.equal(await reserve(3), 5);
        await assert.rejects(
          c.transaction(async (tx) => {
            assert.equal(await tx.keys.reserveEncryptions('fields', 1, 4, 10), 9);
            throw new Error('boom');
          }),
          /boom/,
        );
        assert.equal(await reserve(6), undefined, 'past the limit: nothing changes');
        assert.equal(await reserve(5), 10);
        assert.equal(await reserve(1), undefined);
        assert.equal((await c.reader.keys.listDataKeys())[0]?.encryptions, 10);
      });

      test('readers never see a transaction in progress', async () => {
        const row = record('notes', { n: 100 });
        let seenInside: RecordRow | undefined = row;
        await a.transaction(async (tx) => {
          await tx.insertRecord(row);
          seenInside = await a.reader.getRecord('notes', row.id);
        });
        assert.equal(seenInside, undefined);
        assert.ok(await a.reader.getRecord('notes', row.id));
      });

      test('ledger: entries but telemetry in order, and the newest entry of a resource', async () => {
        const c = await shard.tenant(uuid7());
        const device = uuid7();
        const resources = [
          'collections/notes/records/r1',
          `telemetry/${device}`,
          'telemetry/_retention',
          `devices/${device}`,
          'collections/notes/records/r1',
        ];
        await c.transaction((tx) =>
          tx.appendLedger({
            batch: 0,
            leaf: '{}',
            entries: resources.map((resource, seq) => ({
              seq,
              batch: 0,
              resource,
              entry: `{"seq":${seq}}`,
              salt: null,
            })),
            nodes: [],
          }),
        );
        const seqs = async (from: number, to: number) =>
          (await c.reader.nonTelemetryEntries(from, to)).map((e) => e.seq);
        assert.deepEqual(await seqs(0, 5), [0, 3, 4]);
        assert.deepEqual(await seqs(1, 4), [3]);
        assert.equal((await c.reader.latestEntry('collections/notes/records/r1'))?.seq, 4);
        assert.equal(await c.reader.latestEntry(`telemetry/${device}`), undefined);
      });

      test('telemetry: a rewritten point reads once, newest value, raw and aggregated; retention and device deletion reach every point', async () => {
        const c = await shard.tenant(uuid7());
        const device = uuid7();
        const point = (key: string, ts: number, value: number) =>
          ({ key, ts, type: 'number', value }) as const;
        const write = (...points: ReturnType<typeof point>[]) =>
          c.transaction((tx) => tx.devices.insertPoints(device, points));
        const range = { deviceId: device, keys: [], from: 0, to: 10_000, limit: 100 };
        const raw = async (limit = 100) =>
          (await c.reader.devices.telemetry({ ...range, limit })).map(
            (p) => `${p.key}@${p.ts}=${p.value}`,
          );
        const sums = async () =>
          (await c.reader.devices.aggregate({ ...range, intervalMs: 10_000, agg: 'sum' })).map(
            (r) => `${r.key}:${r.value}`,
          );
        // SQLite stages points until compaction: reads merge both, the last write winning.
        const compact = () => (c instanceof SqliteTenantStore ? c.compactStaged() : undefined);

        // PostgreSQL holds a point only in its month's partition, which the platform makes ahead.
        await shard.createTelemetryPartitions?.({ from: 0, to: 1, dropBefore: 0 });
        await write(point('a', 1000, 1), point('a', 2000, 2), point('b', 1000, 10));
        await write(point('a', 2000, 20), point('a', 2000, 200));
        const expected = ['a@1000=1', 'a@2000=200', 'b@1000=10'];
        assert.deepEqual(await raw(), expected);
        assert.deepEqual(await raw(2), expected.slice(0, 2));
        assert.deepEqual(await sums(), ['a:201', 'b:10']);
        await compact();
        assert.deepEqual(await raw(), expected);
        assert.deepEqual(await sums(), ['a:201', 'b:10']);

        await write(point('a', 1000, 5), point('a', 3000, 3));
        assert.deepEqual(await raw(), ['a@1000=5', 'a@2000=200', 'a@3000=3', 'b@1000=10']);
        assert.deepEqual(await raw(1), ['a@1000=5']);
        assert.deepEqual(await sums(), ['a:208', 'b:10']);
        assert.deepEqual(
          (await c.reader.devices.latest(device, [])).map((p) => `${p.key}@${p.ts}=${p.value}`),
          ['a@3000=3', 'b@1000=10'],
        );

        await compact();
        await write(point('b', 500, 9), point('a', 3000, 30));
        assert.deepEqual(
          (await c.reader.devices.latest(device, ['a', 'b'])).map(
            (p) => `${p.key}@${p.ts}=${p.value}`,
          ),
          ['a@3000=30', 'b@1000=10'],
          'an older point is no latest value; a rewrite of the latest is',
        );
        await compact();
        assert.deepEqual(
          (await c.reader.devices.latest(device, ['b'])).map((p) => `${p.key}@${p.ts}=${p.value}`),
          ['b@1000=10'],
        );

        await write(point('a', 500, 7));
        assert.equal(await c.transaction((tx) => tx.devices.deletePointsBefore(1500, 100)), 4);
        assert.deepEqual(await raw(), ['a@2000=200', 'a@3000=30']);
        const latest = async () =>
          (await c.reader.devices.latest(device, [])).map((p) => `${p.key}@${p.ts}=${p.value}`);
        assert.deepEqual(await latest(), ['a@3000=30'], 'b had no point left');
        // In batches: a series' latest value stays until its last expired point is gone.
        await write(point('c', 100, 1), point('c', 200, 2), point('c', 300, 3));
        assert.equal(await c.transaction((tx) => tx.devices.deletePointsBefore(1500, 2)), 2);
        assert.deepEqual(await latest(), ['a@3000=30', 'c@300=3']);
        assert.equal(await c.transaction((tx) => tx.devices.deletePointsBefore(1500, 2)), 1);
        assert.deepEqual(await latest(), ['a@3000=30']);
        assert.deepEqual(await raw(), ['a@2000=200', 'a@3000=30']);
        await write(point('b', 4000, 4));
        await c.transaction((tx) => tx.devices.deleteDevice(device));
        assert.deepEqual(await raw(), []);
        assert.deepEqual(await sums(), []);
      });

      test('edge standing: assigned to a node now, and the last time a device left it', async () => {
        const c = await shard.tenant(uuid7());
        const [x, y] = [uuid7(), uuid7()];
        const onX = device('on-x', x);
        const moved = device('moved-to-y', y);
        const never = device('on-no-node', null);
        await c.transaction(async (tx) => {
          for (const d of [onX, moved, never]) await tx.devices.insertDevice(d);
          for (const s of [10, 30, 20])
            await tx.devices.recordEdgeUnassignment(moved.id, x, instant(s));
        });
        const standing = (node: string, ids = [onX.id, moved.id, never.id, uuid7()]) =>
          c.transaction(async (tx) => Object.fromEntries(await tx.devices.edgeStanding(node, ids)));
        const none = { assigned: false, unassignedAt: null };
        assert.deepEqual(
          await standing(x),
          {
            [onX.id]: { assigned: true, unassignedAt: null },
            [moved.id]: { assigned: false, unassignedAt: instant(30) },
            [never.id]: none,
          },
          'the last departure is kept; a device that does not exist is absent',
        );
        assert.deepEqual(await standing(y), {
          [onX.id]: none,
          [moved.id]: { assigned: true, unassignedAt: null },
          [never.id]: none,
        });
        assert.deepEqual(await standing(x, []), {});
        await c.transaction(async (tx) => {
          await tx.devices.deleteDevice(moved.id);
          await tx.devices.insertDevice(moved);
        });
        assert.deepEqual(
          (await standing(x))[moved.id],
          none,
          'deleting a device forgets the nodes it left',
        );
      });

      test('rpc: a delivered request is neither pending nor queued, never claimed again, and expires', async () => {
        const c = await shard.tenant(uuid7());
        const dev = device('rpc-target', null);
        const rpc = (method: string): RpcRow => ({
          id: uuid7(),
          deviceId: dev.id,
          method,
          params: null,
          persistent: true,
          status: 'queued',
          response: null,
          error: null,
          createdAt: instant(0),
          expiresAt: instant(60),
          updatedAt: instant(0),
        });
        const [queued, delivered] = [rpc('stays-queued'), rpc('is-delivered')];
        await c.transaction(async (tx) => {
          await tx.devices.insertDevice(dev);
          await tx.devices.insertRpc(queued);
          await tx.devices.insertRpc(delivered);
        });
        const change = (from: RpcStatus[], next: RpcChange, at: number) =>
          c.transaction((tx) =>
            tx.devices.updateRpc(dev.id, delivered.id, from, next, instant(at)),
          );
        assert.equal((await change(['queued'], { status: 'sent' }, 1))?.status, 'sent');
        const row = await change(['sent'], { status: 'delivered' }, 2);
        assert.equal(row?.status, 'delivered');
        assert.equal(row?.updatedAt, instant(2));

        const everyClaim = instant(59);
        const pending = await c.reader.devices.pendingRpcs(dev.id, instant(3), 10, everyClaim);
        assert.deepEqual(
          pending.map((r) => r.id),
          [queued.id],
          'not pending, however old its claim',
        );
        const claimedAgain = await change(
          ['queued', 'sent'],
          { status: 'sent', sentBefore: everyClaim },
          4,
        );
        assert.equal(claimedAgain, undefined, 'never claimed again');
        assert.equal(
          await c.transaction((tx) => tx.devices.lockRpcQueue(dev.id, instant(3))),
          1,
          'only the queued one counts against rpcQueueMax',
        );
        assert.equal(await c.transaction((tx) => tx.devices.expireRpcs(instant(60))), 2);
        assert.equal((await c.reader.devices.getRpc(dev.id, delivered.id))?.status, 'expired');
      });

      test('dropping a tenant removes all of its data and only its data', async () => {
        const c = await shard.tenant(uuid7());
        const moved = device('moved', null);
        const node = uuid7();
        await c.transaction(async (tx) => {
          await tx.putCollection(collection('notes'));
          await tx.insertRecord(record('notes', { n: 1 }));
          await tx.devices.insertDevice(moved);
          await tx.devices.recordEdgeUnassignment(moved.id, node, instant(0));
        });
        await shard.dropTenant(c.tenantId);
        await assert.rejects(shard.tenant(c.tenantId), { code: 'PALISADE_TENANT_DELETED' });
        // Nothing of it is left, its edge history included (tenant-drop-writers.test.ts: nor can
        // any store write it again); the other tenant keeps its data.
        assert.deepEqual(await tenantLeftovers(shard.location, c.tenantId), []);
        assert.ok((await a.reader.listCollections({ after: undefined, limit: 100 })).length > 0);
      });
    });
  });
}
