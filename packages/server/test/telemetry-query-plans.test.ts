/**
 * A raw telemetry query does work of the size of its answer, not of the device's history: on
 * SQLite (whose reads hold the event loop) a query without keys seeks each series' range in
 * the telemetry tree rather than walking every point of the device to find an hour's; on
 * PostgreSQL each series is read in its primary key's order up to the limit, rather than every
 * point of the range being read and sorted (or, with keys, every point of the keys before
 * them walked) to return the first `limit`. The answers are the same either way (the store
 * conformance suite); these check the plans, and on PostgreSQL the points a plan reads.
 */
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { uuid7 } from '../src/ids/index.ts';
import type { AggregateQuery, TelemetryQuery } from '../src/store/index.ts';
import { PgTelemetryReads } from '../src/store/postgres/postgres-telemetry-reads.ts';
import { type Queryable, TenantQueries } from '../src/store/postgres/tenant-queries.ts';
import { migrateSqlite } from '../src/store/sqlite/sqlite-database.ts';
import { SqliteTelemetryReads } from '../src/store/sqlite/sqlite-telemetry-reads.ts';
import { TENANT_MIGRATIONS } from '../src/store/sqlite/tenant-migrations.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

const DEVICE = uuid7();
const RANGE: TelemetryQuery = {
  deviceId: DEVICE,
  keys: [],
  from: 0,
  to: Number.MAX_SAFE_INTEGER,
  limit: 10,
};
const BUCKETS: AggregateQuery = { ...RANGE, intervalMs: 3_600_000, agg: 'avg' };

test('SQLite: reads without keys seek each series by key and ts in the telemetry tree', async () => {
  const db = new DatabaseSync(':memory:');
  migrateSqlite(db, TENANT_MIGRATIONS);
  const statements: string[] = [];
  const reads = new SqliteTelemetryReads((sql) => {
    statements.push(sql);
    return db.prepare(sql);
  }, undefined);
  await reads.telemetry(RANGE);
  await reads.aggregate(BUCKETS);
  assert.equal(statements.length, 2);
  for (const sql of statements) {
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map(
      (row) => row.detail,
    );
    // The tree (`telemetry`, or `t` in the aggregate) is searched by its primary key, never
    // scanned; telemetry_latest, which names the device's series, is searched by device.
    assert.ok(!plan.includes('SCAN telemetry'), plan.join('\n'));
    const tree = plan.filter((line) => / USING PRIMARY KEY /.test(line));
    assert.equal(tree.length, 2, plan.join('\n'));
    assert.match(tree[1]!, /^SEARCH telemetry_latest USING PRIMARY KEY \(device_id=\?\)$/);
    assert.match(tree[0]!, /USING PRIMARY KEY \(device_id=\? AND key=\? AND ts>\? AND ts<\?\)$/);
  }
  db.close();
});

interface PlanNode {
  readonly 'Relation Name'?: string;
  readonly 'Actual Rows': number;
  readonly 'Actual Loops': number;
  readonly 'Rows Removed by Filter'?: number;
  readonly Plans?: readonly PlanNode[];
}

/** The rows a PostgreSQL plan read from telemetry's partitions, kept or filtered out. */
function pointsRead(node: PlanNode): number {
  const own = node['Relation Name']?.startsWith('telemetry_p')
    ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops']
    : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + pointsRead(child), 0);
}

if (backendNames().includes('postgres')) {
  describe('PostgreSQL: a raw query', () => {
    const SERIES = ['a', 'b', 'c'];
    let api: TestApi;
    let admin: pg.Client;
    let tenantId: string;
    let deviceId: string;

    before(async () => {
      api = await TestApi.start('postgres');
      const tenant = await api.tenant('plans');
      tenantId = tenant.id;
      deviceId = (await api.call('POST', '/v1/devices', tenant.key, { name: 'm' })).body.id;
      const now = Date.now();
      const sent = await api.call(
        'POST',
        `/v1/devices/${deviceId}/telemetry`,
        tenant.key,
        Array.from({ length: 200 }, (_, i) => ({
          ts: now - i * 1000,
          values: Object.fromEntries(SERIES.map((key) => [key, i])),
        })),
      );
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const shard = (await api.platform.stores.controlPlane.getTenant(tenantId))!.shard;
      admin = new pg.Client({ connectionString: api.platform.stores.shards.get(shard)!.location });
      await admin.connect();
      // No sorting: a plan must take its order from an index, or read everything to sort it.
      await admin.query('SET enable_sort = off; SET enable_seqscan = off');
    });
    after(async () => {
      await admin.end();
      await api.close();
    });

    test('reads no more points than each series may give to its limit', async () => {
      for (const keys of [[], ['c']]) {
        const plans: PlanNode[] = [];
        const explain = {
          query: async (sql: string, params: unknown[]) => {
            const { rows } = await admin.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
            plans.push(rows[0]['QUERY PLAN'][0].Plan);
            return { rows: [] };
          },
        } as unknown as Queryable;
        const reads = new PgTelemetryReads(new TenantQueries(explain, tenantId));
        await reads.telemetry({ ...RANGE, deviceId, keys, limit: 5 });
        assert.equal(plans.length, 1);
        const read = pointsRead(plans[0]!);
        assert.ok(read > 0 && read <= 5 * SERIES.length, `${read}: ${JSON.stringify(plans)}`);
      }
    });
  });
}
