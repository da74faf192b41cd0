/**
 * PostgreSQL's monthly telemetry partitions are made from the oldest point a shard may still
 * hold to `telemetryPartitionMonthsAhead` ahead: never before 1970 (no point is older), never
 * before what the longest retention keeps, however far telemetryMaxPastMs reaches back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { maintainTelemetryPartitions } from '../src/store/postgres/telemetry-partitions.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/** A pg.Client that records the statements it is given and finds no partition. */
function recordingClient(): { client: pg.Client; statements: string[] } {
  const statements: string[] = [];
  const client = {
    query: async (sql: string) => {
      statements.push(sql);
      return { rows: [] };
    },
  } as unknown as pg.Client;
  return { client, statements };
}

/** Months from January 1970 to the month of `ms`, both counted. */
function monthsSinceEpoch(ms: number): number {
  const d = new Date(ms);
  return (d.getUTCFullYear() - 1970) * 12 + d.getUTCMonth() + 1;
}

test('a window reaching thousands of years before 1970 makes partitions from 1970 only', async () => {
  const now = Date.UTC(2026, 4, 15);
  const to = Date.UTC(2026, 7, 1);
  const { client, statements } = recordingClient();
  const { created } = await maintainTelemetryPartitions(client, {
    from: -1e14,
    to,
    dropBefore: -1e14,
  });
  const creates = statements.filter((sql) => sql.startsWith('CREATE TABLE'));
  assert.equal(creates.length, monthsSinceEpoch(now) + 2);
  assert.equal(created[0], 'telemetry_p197001');
  assert.match(creates[0]!, /FROM \(0\) TO \(2678400000\)/);
  assert.equal(created.at(-1), 'telemetry_p202607');
});

test('a window past what Date can hold still makes the months retention keeps', async () => {
  const now = Date.UTC(2026, 4, 15);
  const { client } = recordingClient();
  const { created } = await maintainTelemetryPartitions(client, {
    from: now - Number.MAX_SAFE_INTEGER,
    to: now + 1,
    dropBefore: Date.UTC(2026, 2, 20),
  });
  assert.deepEqual(created, ['telemetry_p202603', 'telemetry_p202604', 'telemetry_p202605']);
});

if (backendNames().includes('postgres')) {
  describe('partitions with telemetryMaxPastMs beyond 1970 (postgres)', () => {
    let api: TestApi;
    before(async () => {
      api = await TestApi.start('postgres', {
        telemetryMaxPastMs: String(Number.MAX_SAFE_INTEGER),
        telemetryRetention: ['*=30'],
      });
    });
    after(() => api.close());

    test("the current month's partition exists, and none before retention or 1970", async () => {
      const now = Date.now();
      await api.platform.devices.retention.run(now);
      const client = new pg.Client({ connectionString: api.fixture.shardUrls[0] });
      await client.connect();
      try {
        const { rows } = await client.query<{ name: string }>(
          `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'telemetry' ORDER BY 1`,
        );
        const d = new Date(now);
        const current = `telemetry_p${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
        const names = rows.map((r) => r.name).filter((n) => n !== 'telemetry_default');
        assert.ok(names.includes(current), `no ${current} among ${names.join(', ')}`);
        // 30 days back and 3 months ahead: at most six months.
        assert.ok(names.length <= 6, names.join(', '));
      } finally {
        await client.end();
      }
    });
  });
}
