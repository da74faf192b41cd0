/**
 * Retention keeps every point at or after `now - days` and deletes every point before it,
 * at a month's (PostgreSQL: a partition's) edge as anywhere else; a latest value goes with the
 * last point of its series; and a tenant's expired points go in transactions of at most
 * `telemetryRetentionBatchMax` points, one ledger entry each, until none is left.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { GroupCommitter } from '../src/commit/index.ts';
import { TelemetryPartitionUpkeep } from '../src/devices/telemetry-partition-upkeep.ts';
import { TelemetryRetention } from '../src/devices/telemetry-retention.ts';
import { retentionPolicy } from '../src/devices/telemetry-retention-policy.ts';
import type { ControlPlaneStore, ShardStore } from '../src/store/index.ts';
import { type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

const DAY = 86_400_000;

/** The first instant of the UTC month of `ms`. */
function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

async function partitions(api: TestApi): Promise<string[]> {
  if (api.fixture.name !== 'postgres') return [];
  const client = new pg.Client({ connectionString: api.fixture.shardUrls[0] });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'telemetry' ORDER BY 1`,
    );
    return rows.map((r) => r.name);
  } finally {
    await client.end();
  }
}

function partitionOf(ms: number): string {
  const d = new Date(ms);
  return `telemetry_p${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

for (const backend of backendNames()) {
  describe(`telemetry retention at its edges (${backend})`, () => {
    let api: TestApi;
    let key: string;
    let tenantId: string;
    const get = (path: string): Promise<Reply> => api.call('GET', path, key);
    const send = async (deviceId: string, points: { ts: number; values: object }[]) => {
      const sent = await api.call('POST', `/v1/devices/${deviceId}/telemetry`, key, points);
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
    };
    const device = async (name: string): Promise<string> =>
      (await api.call('POST', '/v1/devices', key, { name })).body.id;
    const retentionEntries = async () => {
      const shard = (await api.platform.stores.controlPlane.getTenant(tenantId))!.shard;
      const store = await api.platform.stores.shards.get(shard)!.tenant(tenantId);
      const { nextSeq } = await store.reader.ledgerHead();
      return (await store.reader.ledgerEntries(0, nextSeq))
        .map((e) => JSON.parse(e.entry))
        .filter((e) => e.action === 'telemetry.retention');
    };

    before(async () => {
      api = await TestApi.start(backend, {
        telemetryRetention: ['*=30'],
        telemetryRetentionBatchMax: '2',
      });
      const t = await api.tenant('retention-edges');
      key = t.key;
      tenantId = t.id;
    });
    after(() => api.close());

    test('at a month edge: the point at now - days stays, the one before it goes', async () => {
      const edge = monthStart(Date.now());
      const id = await device('edge');
      // The first pass made the partitions from 30 days back; the points land in them.
      await api.platform.devices.retention.run();
      await send(id, [
        { ts: edge - 1, values: { v: 1 } },
        { ts: edge, values: { v: 2 } },
      ]);
      const values = async () =>
        ((await get(`/v1/devices/${id}/telemetry?from=0&to=${edge + 1}`)).body.v ?? []).map(
          (p: { value: number }) => p.value,
        );
      // One ms short of the edge's point expiring: both stay, and so does the month before.
      await api.platform.devices.retention.run(edge + 30 * DAY - 1);
      assert.deepEqual(await values(), [1, 2]);
      if (backend === 'postgres') {
        const kept = await partitions(api);
        assert.ok(kept.includes(partitionOf(edge - 1)), kept.join(', '));
      }
      // Now the month before the edge is past every plan: its point goes, the edge's stays.
      await api.platform.devices.retention.run(edge + 30 * DAY);
      assert.deepEqual(await values(), [2]);
      if (backend === 'postgres') {
        const after = await partitions(api);
        assert.ok(!after.includes(partitionOf(edge - 1)), after.join(', '));
        assert.ok(after.includes(partitionOf(edge)), after.join(', '));
      }
      // Those passes ran the clock forward; today's points need back the months they dropped.
      await api.platform.devices.partitions.prepare();
    });

    test('a latest value goes with the last point of its series, not before', async () => {
      const id = await device('latest');
      const now = Date.now();
      await send(id, [
        { ts: now - 10 * DAY, values: { gone: 1, kept: 1 } },
        { ts: now - DAY, values: { kept: 2 } },
      ]);
      await api.platform.devices.retention.run(now + 25 * DAY);
      const latest = await get(`/v1/devices/${id}/telemetry/latest`);
      assert.deepEqual(latest.body, { kept: [{ ts: now - DAY, value: 2 }] });
      const raw = await get(`/v1/devices/${id}/telemetry?from=0&to=${now}`);
      assert.deepEqual(raw.body, { kept: [{ ts: now - DAY, value: 2 }] });
      // The pass ran the clock forward, past a month the next test's points (20 days old) may
      // fall in (when today is early in a month): make the partitions of today's window again.
      await api.platform.devices.partitions.prepare();
    });

    test('expired points go in transactions of at most telemetryRetentionBatchMax, all in one pass', async () => {
      // A tenant of its own: the earlier tests' points must not join these batches.
      const t = await api.tenant('retention-batches');
      key = t.key;
      tenantId = t.id;
      const [a, b] = [await device('batch-a'), await device('batch-b')];
      const now = Date.now();
      await send(
        a,
        [1, 2, 3].map((i) => ({ ts: now - 20 * DAY + i, values: { v: i } })),
      );
      await send(
        b,
        [1, 2].map((i) => ({ ts: now - 20 * DAY + i, values: { w: i, x: i } })),
      );
      await api.platform.devices.retention.run(now + 15 * DAY);
      const entries = await retentionEntries();
      // Seven points in batches of two: four transactions, each with its ledger entry.
      assert.equal(entries.length, 4);
      for (const id of [a, b]) {
        assert.deepEqual((await get(`/v1/devices/${id}/telemetry?from=0&to=${now}`)).body, {});
        assert.deepEqual((await get(`/v1/devices/${id}/telemetry/latest`)).body, {});
      }
    });
  });
}

test('a tenant whose retention fails holds up neither the other tenants nor partition upkeep', async () => {
  const tenant = (id: string) => ({ id, plan: 'free', status: 'active', shard: 's1' });
  const cleaned: string[] = [];
  const windows: unknown[] = [];
  const shard = {
    tenant: async (id: string) => {
      if (id === 'broken') throw new Error('the tenant file cannot be opened');
      return { id };
    },
    createTelemetryPartitions: async (window: unknown) => {
      windows.push(window);
      return [];
    },
  } as unknown as ShardStore;
  const shards = new Map([['s1', shard]]);
  const policy = retentionPolicy(['*=30']);
  const retention = new TelemetryRetention({
    controlPlane: {
      listTenants: async () => [tenant('broken'), tenant('fine')],
    } as unknown as ControlPlaneStore,
    shards,
    committer: {
      submit: async (store: { id: string }) => {
        cleaned.push(store.id);
      },
    } as unknown as GroupCommitter,
    policy,
    intervalMs: 3_600_000,
    batchMax: 10,
    partitions: new TelemetryPartitionUpkeep({
      shards,
      longestDays: policy.longestDays,
      maxPastMs: 0,
      maxFutureMs: 0,
      monthsAhead: 1,
      intervalMs: 3_600_000,
    }),
  });
  await retention.run(Date.UTC(2026, 0, 15));
  assert.deepEqual(cleaned, ['fine']);
  assert.equal(windows.length, 1);
});
