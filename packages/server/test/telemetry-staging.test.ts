import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { type TestContext, test } from 'node:test';
import fc from 'fast-check';
import { uuid7 } from '../src/ids/index.ts';
import type { TelemetryPoint } from '../src/store/index.ts';
import { migrateSqlite, openSqlite } from '../src/store/sqlite/sqlite-database.ts';
import { SqliteTenantDevices } from '../src/store/sqlite/sqlite-device-store.ts';
import { SqliteShardStore } from '../src/store/sqlite/sqlite-shard-store.ts';
import type { SqliteTenantStore } from '../src/store/sqlite/sqlite-tenant-store.ts';
import { StagedLatest } from '../src/store/sqlite/staged-latest.ts';
import { TENANT_MIGRATIONS } from '../src/store/sqlite/tenant-migrations.ts';

/**
 * SQLite stages telemetry and compacts it later (the read semantics are in the store
 * conformance suite, on both backends): what a process staged and never compacted is still
 * there, and read, after a restart, and the next process compacts it.
 */

/** A temporary folder, removed when the test ends. */
function tempFolder(t: TestContext): string {
  const folder = mkdtempSync(join(tmpdir(), 'palisade-staging-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

function staged(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return Number(
      (db.prepare('SELECT count(*) AS n FROM telemetry_staged').get() as { n: number }).n,
    );
  } finally {
    db.close();
  }
}

test('points staged before a restart are read after it and compacted by the next process', async (t) => {
  const folder = tempFolder(t);
  const tenantId = uuid7();
  const device = uuid7();
  const file = join(folder, `${tenantId}.db`);
  const points = [
    { key: 'temperature', ts: 1_000, type: 'number', value: 21.5 },
    { key: 'temperature', ts: 2_000, type: 'number', value: 22 },
    { key: 'door', ts: 2_000, type: 'boolean', value: true },
  ] as const;

  const first = new SqliteShardStore('s1', folder, 4);
  const store = await first.tenant(tenantId);
  await store.transaction((tx) => tx.devices.insertPoints(device, points));
  // Closed well within the compaction delay, as a process killed right after its commit.
  await first.close();
  assert.equal(staged(file), 3);

  const second = new SqliteShardStore('s1', folder, 4);
  t.after(() => second.close());
  const reopened = (await second.tenant(tenantId)) as SqliteTenantStore;
  const read = async () => ({
    raw: (
      await reopened.reader.devices.telemetry({
        deviceId: device,
        keys: [],
        from: 0,
        to: 10_000,
        limit: 10,
      })
    ).map((p) => `${p.key}@${p.ts}=${p.value}`),
    latest: (await reopened.reader.devices.latest(device, [])).map(
      (p) => `${p.key}@${p.ts}=${p.value}`,
    ),
  });
  const expected = {
    raw: ['door@2000=true', 'temperature@1000=21.5', 'temperature@2000=22'],
    latest: ['door@2000=true', 'temperature@2000=22'],
  };
  assert.deepEqual(await read(), expected);
  // The reopened store scheduled the compaction of what it found; run it now.
  await reopened.compactStaged();
  assert.equal(staged(file), 0);
  assert.deepEqual(await read(), expected);
});

test('a file staged under schema 13 keeps its points through the staged table copy, and its type check', async (t) => {
  const folder = tempFolder(t);
  const tenantId = uuid7();
  const device = uuid7();
  const file = join(folder, `${tenantId}.db`);
  const old = openSqlite(file);
  migrateSqlite(
    old,
    TENANT_MIGRATIONS.filter((m) => m.version <= 13),
  );
  const stage = old.prepare(
    'INSERT INTO telemetry_staged (seq, device_id, key, ts, type, num, text) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  // Out of ts order: compaction's last-staged-wins rests on seq surviving the copy.
  stage.run(7, device, 'temperature', 1_000, 'number', 20, null);
  stage.run(9, device, 'temperature', 1_000, 'number', 21, null);
  stage.run(8, device, 'mode', 500, 'string', null, 'eco');
  old.close();

  const shard = new SqliteShardStore('s1', folder, 4);
  t.after(() => shard.close());
  const store = (await shard.tenant(tenantId)) as SqliteTenantStore;
  const db = new DatabaseSync(file, { readOnly: true });
  t.after(() => db.close());
  const schema = db
    .prepare("SELECT sql FROM sqlite_schema WHERE name = 'telemetry_staged'")
    .get() as { sql: string };
  assert.match(schema.sql, /type = 'number' OR type = 'boolean'/);
  assert.deepEqual(
    db
      .prepare('SELECT seq, key, num, text FROM telemetry_staged ORDER BY seq')
      .all()
      .map((row) => ({ ...row })),
    [
      { seq: 7, key: 'temperature', num: 20, text: null },
      { seq: 8, key: 'mode', num: null, text: 'eco' },
      { seq: 9, key: 'temperature', num: 21, text: null },
    ],
  );
  await store.compactStaged();
  assert.deepEqual(
    (await store.reader.devices.latest(device, [])).map((p) => `${p.key}@${p.ts}=${p.value}`),
    ['mode@500=eco', 'temperature@1000=21'],
  );
  const writer = openSqlite(file);
  t.after(() => writer.close());
  assert.throws(
    () =>
      writer
        .prepare(
          "INSERT INTO telemetry_staged (device_id, key, ts, type) VALUES (?, 'x', 1, 'date')",
        )
        .run(device),
    /CHECK constraint failed/,
  );
});

/** Waits (a macrotask at a time, at most `ms`) until `done` holds; false if it never did. */
async function eventually(done: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (done()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return done();
}

test('a commit that staged points is compacted on its own: soon, and at once past the cap', async (t) => {
  const folder = tempFolder(t);
  const shard = new SqliteShardStore('s1', folder, 4);
  t.after(() => shard.close());
  const tenantId = uuid7();
  const file = join(folder, `${tenantId}.db`);
  const store = await shard.tenant(tenantId);
  const device = uuid7();

  await store.transaction((tx) =>
    tx.devices.insertPoints(device, [{ key: 'k', ts: 1, type: 'number', value: 1 }]),
  );
  assert.equal(staged(file), 1);
  assert.ok(await eventually(() => staged(file) === 0, 10_000), 'compacted within its delay');

  // Past the cap the compaction is not left to its delay: it follows the commit at once.
  const many = Array.from({ length: 20_000 }, (_, i) => ({
    key: 'k',
    ts: 10 + i,
    type: 'number' as const,
    value: i,
  }));
  await store.transaction((tx) => tx.devices.insertPoints(device, many));
  assert.ok(await eventually(() => staged(file) === 0, 500), 'compacted right after the commit');
  const latest = await store.reader.devices.latest(device, []);
  assert.deepEqual(
    latest.map((p) => `${p.key}@${p.ts}=${p.value}`),
    ['k@20009=19999'],
  );
});

/** What happens to a tenant file between two reads of its latest values. */
type Step =
  | {
      readonly kind: 'commit' | 'rollback';
      readonly device: number;
      readonly points: TelemetryPoint[];
    }
  | { readonly kind: 'compact' }
  | { readonly kind: 'delete'; readonly device: number };

const point = fc
  .record({
    key: fc.constantFrom('a', 'b', 'é', '𝄞', 'z'),
    ts: fc.integer({ min: 0, max: 4 }),
    value: fc.oneof(
      fc.integer({ min: -5, max: 5 }).map((value) => ({ type: 'number' as const, value })),
      fc
        .double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 })
        .filter((value) => !Object.is(value, -0))
        .map((value) => ({ type: 'number' as const, value })),
      fc.boolean().map((value) => ({ type: 'boolean' as const, value })),
      fc.string({ maxLength: 4 }).map((value) => ({ type: 'string' as const, value })),
      fc.dictionary(fc.string({ maxLength: 2 }), fc.integer()).map((value) => ({
        type: 'json' as const,
        value,
      })),
    ),
  })
  .map(({ key, ts, value }) => ({ key, ts, ...value }) as TelemetryPoint);

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('commit' as const),
      device: fc.integer({ min: 0, max: 1 }),
      points: fc.array(point, { minLength: 1, maxLength: 6 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('rollback' as const),
      device: fc.integer({ min: 0, max: 1 }),
      points: fc.array(point, { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'compact' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      device: fc.integer({ min: 0, max: 1 }),
    }),
  },
);

test('latest values read from the staged points held in memory equal a scan of the staged table and a model', async (t) => {
  const folder = tempFolder(t);
  const shard = new SqliteShardStore('s1', folder, 4);
  t.after(() => shard.close());
  const show = (points: readonly TelemetryPoint[]) =>
    points.map((p) => `${p.key}@${p.ts}:${p.type}=${JSON.stringify(p.value)}`);

  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
      const tenantId = uuid7();
      const store = (await shard.tenant(tenantId)) as SqliteTenantStore;
      // A second reader of the same file that scans the staged table, as before the overlay.
      const db = new DatabaseSync(join(folder, `${tenantId}.db`), { readOnly: true });
      try {
        const scan = new SqliteTenantDevices((sql) => db.prepare(sql), {
          writer: false,
          stagedLatest: new StagedLatest(false),
        });
        const devices = [uuid7(), uuid7()];
        // Per device, the newest committed point of each key; of equal ts the later one.
        const model = devices.map(() => new Map<string, TelemetryPoint>());
        for (const s of steps) {
          if (s.kind === 'commit') {
            await store.transaction((tx) => tx.devices.insertPoints(devices[s.device]!, s.points));
            for (const p of s.points) {
              const held = model[s.device]!.get(p.key);
              if (held === undefined || p.ts >= held.ts) model[s.device]!.set(p.key, p);
            }
          } else if (s.kind === 'rollback') {
            await assert.rejects(
              store.transaction(async (tx) => {
                await tx.devices.insertPoints(devices[s.device]!, s.points);
                throw new Error('rolled back');
              }),
              /rolled back/,
            );
          } else if (s.kind === 'compact') {
            await store.compactStaged();
          } else {
            await store.transaction((tx) => tx.devices.deleteDevice(devices[s.device]!));
            model[s.device]!.clear();
          }
          for (const [i, device] of devices.entries()) {
            for (const keys of [[], ['a', '𝄞']]) {
              const read = await store.reader.devices.latest(device, keys);
              assert.deepEqual(show(read), show(await scan.latest(device, keys)));
              const expected = [...model[i]!.values()].filter(
                (p) => keys.length === 0 || keys.includes(p.key),
              );
              assert.deepEqual(show(read).sort(), show(expected).sort());
            }
          }
        }
      } finally {
        db.close();
      }
    }),
    { numRuns: 60 },
  );
});
