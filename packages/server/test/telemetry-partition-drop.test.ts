/**
 * PostgreSQL retention drops expired monthly partitions without holding ingest up: while a
 * transaction that read `telemetry` stays open, the drop waits for it but an insert does not
 * wait for the drop. A drop interrupted half-way (a partition left "detach pending") is
 * finished at the next pass.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

const DAY = 86_400_000;
/** How long the pass may take to reach its wait, on a loaded machine; only bounds polling. */
const WAIT_MS = 30_000;

function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function partitionOf(ms: number): string {
  const d = new Date(ms);
  return `telemetry_p${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

if (backendNames().includes('postgres')) {
  describe('dropping expired telemetry partitions (postgres)', () => {
    let api: TestApi;
    let key: string;
    let tenantId: string;
    let location: string;
    const clients: pg.Client[] = [];
    const connect = async () => {
      const client = new pg.Client({ connectionString: location });
      await client.connect();
      clients.push(client);
      return client;
    };
    const thisMonth = monthStart(Date.now());
    /** The last instant of the month before this one, and of the month before that. */
    const lastMonth = thisMonth - 1;
    const monthBefore = monthStart(lastMonth) - 1;
    /** A clock at which both months are past the 90 days every plan keeps. */
    const later = thisMonth + 90 * DAY;

    const device = async (name: string, points: number[]) => {
      const id = (await api.call('POST', '/v1/devices', key, { name })).body.id as string;
      const sent = await api.call(
        'POST',
        `/v1/devices/${id}/telemetry`,
        key,
        points.map((ts) => ({ ts, values: { v: ts } })),
      );
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      return id;
    };
    const stored = async (id: string) =>
      ((await api.call('GET', `/v1/devices/${id}/telemetry?from=0&to=${later}`, key)).body.v ?? [])
        .map((p: { ts: number }) => p.ts)
        .sort();
    const tables = async (admin: pg.Client) =>
      (
        await admin.query<{ name: string; pending: boolean | null }>(
          `SELECT c.relname AS name, i.inhdetachpending AS pending
           FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
           WHERE c.relname IN ($1, $2) ORDER BY 1`,
          [partitionOf(lastMonth), partitionOf(monthBefore)],
        )
      ).rows;
    /** An open transaction that has read every partition of the parent. */
    const reader = async () => {
      const client = await connect();
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await client.query('SELECT count(*) FROM telemetry');
      return client;
    };
    /** Until a statement of the pass waits for a lock on a month table. */
    const passWaiting = async (admin: pg.Client) => {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const { rows } = await admin.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
             AND wait_event_type = 'Lock' AND query ~ 'telemetry_p[0-9]{6}'`,
        );
        if (rows.length > 0) return;
        assert.ok(Date.now() < deadline, 'the pass reached the partitions');
        await sleep(20);
      }
    };

    before(async () => {
      api = await TestApi.start('postgres', { telemetryRetention: ['*=90'] });
      const tenant = await api.tenant('partition-drop');
      key = tenant.key;
      tenantId = tenant.id;
      const shard = (await api.platform.stores.controlPlane.getTenant(tenantId))!.shard;
      location = api.platform.stores.shards.get(shard)!.location;
    });
    after(async () => {
      for (const client of clients) await client.end();
      await api.close();
    });

    test('an open reader of the parent makes no insert wait for the drop', async () => {
      const id = await device('reader', [monthBefore, lastMonth, Date.now()]);
      const admin = await connect();
      const open = await reader();
      const pass = api.platform.devices.retention.run(later);
      await passWaiting(admin);
      // Ingest meanwhile: a lock queued behind the drop would fail it rather than hang.
      const writer = await connect();
      await writer.query("SET lock_timeout = '5s'");
      try {
        await writer.query(
          `INSERT INTO telemetry (tenant_id, device_id, key, ts, type, num)
           VALUES ($1, $2, 'v', $3, 'number', 1)`,
          [tenantId, id, Date.now() + 1],
        );
      } finally {
        await open.query('COMMIT');
        await pass;
      }
      assert.deepEqual(await tables(admin), []);
      assert.equal((await stored(id)).length, 2);
    });

    test('a partition left detach pending is finalized and dropped at the next pass', async () => {
      // The clock of the previous test dropped the months that today's points need.
      await api.platform.devices.partitions.prepare();
      const id = await device('crashed', [monthBefore, lastMonth, Date.now()]);
      const admin = await connect();
      const open = await reader();
      // A detach cut short while it waits for the reader, as a crash would leave it.
      const interrupted = await connect();
      await interrupted.query("SET statement_timeout = '200ms'");
      await assert.rejects(
        interrupted.query(
          `ALTER TABLE telemetry DETACH PARTITION ${partitionOf(monthBefore)} CONCURRENTLY`,
        ),
        /statement timeout/,
      );
      await open.query('COMMIT');
      assert.deepEqual(await tables(admin), [
        { name: partitionOf(monthBefore), pending: true },
        { name: partitionOf(lastMonth), pending: false },
      ]);
      await api.platform.devices.retention.run(later);
      assert.deepEqual(await tables(admin), []);
      assert.equal((await stored(id)).length, 1);
    });
  });
}
