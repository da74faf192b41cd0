/**
 * A PostgreSQL telemetry partition that cannot be made (here: a table of its name that is no
 * partition is in the way) is no silent gap: the failure is logged with what to do and
 * counted, a point of that month is refused with its own code (the other points of the
 * moment still stored), and once the partition is made the same message goes in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { TelemetryPartitionUpkeep } from '../src/devices/telemetry-partition-upkeep.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { signedBatch, signingNode } from './support/edge-nodes.ts';

const DAY = 86_400_000;
const MISSING = 'PALISADE_TELEMETRY_PARTITION_MISSING';

function partitionOf(ms: number): string {
  const d = new Date(ms);
  return `telemetry_p${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

if (backendNames().includes('postgres')) {
  describe('a month whose partition cannot be made (postgres)', () => {
    let api: TestApi;
    let key: string;
    let shard: string;
    let admin: pg.Client;
    const now = new Date();
    /** The first instant of next month, within the accepted range (telemetryMaxFutureMs). */
    const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    const blocked = partitionOf(next);
    const device = async (name: string, edgeNodeId?: string) =>
      (await api.call('POST', '/v1/devices', key, { name, edgeNodeId })).body.id as string;
    const stored = async (id: string) =>
      ((await api.call('GET', `/v1/devices/${id}/telemetry?from=0&to=${next + DAY}`, key)).body.v ??
        []) as { ts: number; value: number }[];

    before(async () => {
      api = await TestApi.start('postgres', { telemetryMaxFutureMs: String(40 * DAY) });
      const tenant = await api.tenant('partition-missing');
      key = tenant.key;
      shard = (await api.platform.stores.controlPlane.getTenant(tenant.id))!.shard;
      // The pass the worker began at start-up ends first: the failures counted are the tests'.
      await api.platform.devices.retention.run();
      admin = new pg.Client({ connectionString: api.platform.stores.shards.get(shard)!.location });
      await admin.connect();
      await admin.query(`DROP TABLE ${blocked}; CREATE TABLE ${blocked} (in_the_way int)`);
    });
    after(async () => {
      await admin.end();
      await api.close();
    });

    test('the failure is logged with what to do, and counted', async () => {
      const lines: Record<string, unknown>[] = [];
      const logger = pino(
        { level: 'error' },
        { write: (line: string) => lines.push(JSON.parse(line)) },
      );
      const upkeep = new TelemetryPartitionUpkeep({
        shards: api.platform.stores.shards,
        longestDays: 365,
        maxPastMs: 0,
        maxFutureMs: 40 * DAY,
        monthsAhead: 3,
        intervalMs: 3_600_000,
        logger,
      });
      await upkeep.run(Date.now());
      assert.equal(lines.length, 1, JSON.stringify(lines));
      const [line] = lines as [
        { shard: string; partition: string; msg: string; err: { message: string } },
      ];
      assert.equal(line.shard, shard);
      assert.equal(line.partition, blocked);
      assert.match(line.err.message, /already exists/);
      assert.match(line.msg, new RegExp(`${MISSING}.*moved away.*tries again`));

      await api.platform.devices.retention.run();
      const metrics = (await api.call('GET', '/metrics', undefined)).body as string;
      assert.ok(
        metrics.includes(
          `palisade_telemetry_partition_failures_total{shard="${shard}",operation="create"} 1\n`,
        ),
        metrics,
      );
    });

    test('a point of that month is refused with its own code; the others are stored', async () => {
      const id = await device('http');
      const send = (ts: number) =>
        api.call('POST', `/v1/devices/${id}/telemetry`, key, { ts, values: { v: ts } });
      const at = Date.now();
      const [kept, refused] = await Promise.all([send(at), send(next)]);
      assert.equal(kept.status, 200, JSON.stringify(kept.body));
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(refused.body.code, MISSING);
      assert.match(refused.body.detail, new RegExp(new Date(next).toISOString().slice(0, 7)));
      assert.deepEqual(
        (await stored(id)).map((p) => p.ts),
        [at],
      );
    });

    test('an edge batch with one is refused whole, and goes in once the partition is made', async () => {
      const node = await signingNode(api, key);
      const id = await device('behind', node.nodeId);
      const at = Date.now();
      const batch = signedBatch(node, 'b-next', [
        { deviceId: id, payload: { ts: at, values: { v: 1 } }, receivedAt: at },
        { deviceId: id, payload: { ts: next, values: { v: 2 } }, receivedAt: at },
      ]);
      const refused = await api.call('POST', '/v1/edge/batches', node.credential, batch);
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(refused.body.code, MISSING);
      assert.deepEqual(await stored(id), []);

      await admin.query(`DROP TABLE ${blocked}`);
      await api.platform.devices.retention.run();
      const applied = await api.call('POST', '/v1/edge/batches', node.credential, batch);
      assert.equal(applied.status, 200, JSON.stringify(applied.body));
      assert.deepEqual(
        (await stored(id)).map((p) => p.value),
        [1, 2],
      );
    });
  });
}
