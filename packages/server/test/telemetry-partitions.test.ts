/**
 * PostgreSQL's monthly telemetry partitions are made from the oldest point a shard may still
 * hold to `telemetryPartitionMonthsAhead` ahead, or as far as telemetryMaxFutureMs lets a point
 * be: never before 1970 (no point is older), never before what the longest retention keeps,
 * however far telemetryMaxPastMs reaches back. Every process makes those missing as it starts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { TelemetryPartitionUpkeep } from '../src/devices/telemetry-partition-upkeep.ts';
import { startPlatform } from '../src/index.ts';
import type { ShardStore, TelemetryWindow } from '../src/store/index.ts';
import { createTelemetryPartitions } from '../src/store/postgres/telemetry-partitions.ts';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { backendNames, scaleOutConfigured } from './support/backends.ts';
import { busFlags, deleteNatsStream } from './support/buses.ts';

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
  const { created } = await createTelemetryPartitions(client, {
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
  const { created } = await createTelemetryPartitions(client, {
    from: now - Number.MAX_SAFE_INTEGER,
    to: now + 1,
    dropBefore: Date.UTC(2026, 2, 20),
  });
  assert.deepEqual(created, ['telemetry_p202603', 'telemetry_p202604', 'telemetry_p202605']);
});

test('partitions reach as far ahead as a point may be until the next pass', async () => {
  const windows: TelemetryWindow[] = [];
  const shard = {
    createTelemetryPartitions: async (window: TelemetryWindow) => {
      windows.push(window);
      return [];
    },
  } as unknown as ShardStore;
  const year = 365 * 86_400_000;
  const upkeep = new TelemetryPartitionUpkeep({
    shards: new Map([['s1', shard]]),
    longestDays: 30,
    maxPastMs: 0,
    maxFutureMs: year,
    monthsAhead: 1,
    intervalMs: 3_600_000,
  });
  const now = Date.UTC(2026, 4, 15);
  await upkeep.prepare(now);
  assert.equal(windows[0]!.to, now + year + 3_600_000);
});

/** The monthly partitions of `telemetry` in the shard at `url`. */
async function partitionsAt(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'telemetry'::regclass ORDER BY 1`,
    );
    return rows.map((r) => r.name);
  } finally {
    await client.end();
  }
}

function currentPartition(): string {
  const d = new Date();
  return `telemetry_p${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

test('a process without the retention job makes the missing partitions as it starts', {
  skip: !scaleOutConfigured(),
}, async (t) => {
  const flags = busFlags('nats');
  const api = await TestApi.start('postgres', flags);
  t.after(async () => {
    await api.fixture.cleanup();
    await deleteNatsStream(flags.busPrefix!);
  });
  // Stopped first, so its own partition upkeep cannot make the dropped month again meanwhile.
  await api.platform.close();
  const [url] = api.fixture.shardUrls;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP TABLE ${currentPartition()}`);
  await admin.end();
  assert.ok(!(await partitionsAt(url!)).includes(currentPartition()));
  const other = await startPlatform(
    { ...api.fixture.settings, adminToken: ADMIN_TOKEN, role: ['api'] },
    { listen: false },
  );
  try {
    assert.ok((await partitionsAt(url!)).includes(currentPartition()));
  } finally {
    await other.close();
  }
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
      await api.platform.devices.retention.run();
      const names = await partitionsAt(api.fixture.shardUrls[0]!);
      assert.ok(
        names.includes(currentPartition()),
        `no ${currentPartition()} among ${names.join(', ')}`,
      );
      // 30 days back and 3 months ahead: at most six months.
      assert.ok(names.length <= 6, names.join(', '));
    });
  });
}
