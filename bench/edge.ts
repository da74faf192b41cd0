/**
 * `npm run bench -- edge [BACKLOG] [BATCH] [DEVICES] [MESSAGES]`: the edge agent's two rates.
 *
 * 1. Local ingest: DEVICES MQTT.js devices (default 200, in 4 publisher processes) each publish
 *    MESSAGES QoS 1 messages (default 20) to the edge's MQTT listener; every PUBACK means the
 *    message is sealed (AES-256-GCM) and fsync'd in the outbox.
 * 2. Drain: an outbox holding BACKLOG messages (default 1,000,000) is sent to a `palisade start`
 *    process (embedded SQLite) in signed batches of BATCH messages (default 5,000), each applied
 *    exactly once with one ledger entry per device of the batch.
 *
 * The limit printed beside the drain rate is this machine's raw SQLite rate for the same rows
 * (same device ids, keys, timestamps and values) into a tenant file's own telemetry table (its
 * primary key and time index; WAL, synchronous=FULL, BATCH rows per transaction), with no
 * encryption, signature, latest-value upsert or ledger.
 */
import { generateKeyPairSync, hash, type KeyObject, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CredentialCache,
  DEFAULT_SYNC,
  EdgeMqttListener,
  groupCommit,
  Outbox,
  SyncLoop,
} from '../packages/edge/src/index.ts';
import { migrateSqlite, openSqlite } from '../packages/server/src/store/sqlite/sqlite-database.ts';
import { TENANT_MIGRATIONS } from '../packages/server/src/store/sqlite/tenant-migrations.ts';
import { call, startPalisade } from './_processes.ts';
import { measure, print } from './ingest.ts';

const ADMIN = `pa_bench_${'e'.repeat(40)}`;
const TELEMETRY = 'v1/devices/me/telemetry';
const PUBLISHERS = 4;
/** Devices the backlog is spread over. */
const DRAIN_DEVICES = 10;
/** Request body room per message of a batch (a message here is about 110 bytes of JSON). */
const BATCH_BYTES_PER_MESSAGE = 256;
/** Messages sealed and written per transaction while the backlog is built. */
const FILL_CHUNK = 10_000;

const rate = (n: number, ms: number) => Math.round((n * 1000) / ms).toLocaleString('en');

/** The listener over a fresh outbox, with DEVICES access tokens in its credential cache. */
async function localIngest(dir: string, devices: number, messages: number): Promise<void> {
  const outbox = new Outbox(join(dir, 'ingest.db'), randomBytes(32), { maxMessages: 10_000_000 });
  const cache = new CredentialCache(join(dir, 'credentials.db'));
  const tokens = Array.from({ length: devices }, () => randomBytes(32).toString('base64url'));
  cache.replace(
    tokens.map((token, i) => ({
      id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
      name: `dev-${i}`,
      type: 'meter',
      credentials: [
        { id: `cred-${i}`, type: 'access_token', tokenSha256: hash('sha256', token, 'base64url') },
      ],
    })),
    new Date(),
  );
  const listener = new EdgeMqttListener({
    plain: { host: '127.0.0.1', port: 0 },
    credentials: cache,
    accept: groupCommit(outbox, (device, _kind, payload) =>
      outbox.accept(device.deviceId, payload),
    ),
  });
  await listener.start();
  try {
    print(
      'edge ingest (outbox fsync)',
      await measure(listener.url, tokens, TELEMETRY, messages, PUBLISHERS),
    );
    console.log(`  (${outbox.size().toLocaleString('en')} messages on disk)`);
  } finally {
    await listener.close();
    cache.close();
    outbox.close();
  }
}

/** What the drain wrote: message n is point `n` = n of device n mod DRAIN_DEVICES at base + n / DRAIN_DEVICES. */
interface Drained {
  readonly ms: number;
  readonly devices: readonly string[];
  readonly base: number;
}

/** Raw SQLite: the drain's rows into a fresh tenant file's telemetry table, `batch` per transaction. */
function rawInsertRate(dir: string, rows: number, batch: number, drained: Drained): number {
  const db = openSqlite(join(dir, 'raw.db'));
  migrateSqlite(db, TENANT_MIGRATIONS);
  const insert = db.prepare(
    "INSERT INTO telemetry (device_id, key, ts, type, num) VALUES (?, 'n', ?, 'number', ?)",
  );
  const { devices, base } = drained;
  const start = performance.now();
  for (let i = 0; i < rows; i += batch) {
    db.exec('BEGIN');
    for (let j = i; j < Math.min(rows, i + batch); j++)
      insert.run(devices[j % DRAIN_DEVICES]!, base + Math.floor(j / DRAIN_DEVICES), j);
    db.exec('COMMIT');
  }
  const ms = performance.now() - start;
  db.close();
  return ms;
}

const spki = (key: KeyObject) => key.export({ format: 'der', type: 'spki' }).toString('base64');
const pem = (key: KeyObject) => key.export({ format: 'pem', type: 'pkcs8' }).toString();

/** A tenant with an enrolled node on the platform at `url`, and devices assigned to it. */
async function enrolledNode(url: string) {
  const tenant = await call<{ id: string }>(url, 'POST', '/v1/platform/tenants', ADMIN, {
    slug: 'bench-edge',
    name: 'bench',
  });
  const key = await call<{ secret: string }>(
    url,
    'POST',
    `/v1/platform/tenants/${tenant.id}/api-keys`,
    ADMIN,
    { name: 'b' },
  );
  const token = await call<{ token: string }>(
    url,
    'POST',
    '/v1/edge-nodes/enrollment-tokens',
    key.secret,
    { name: 'bench-gw' },
  );
  const ed = generateKeyPairSync('ed25519');
  const ml = generateKeyPairSync('ml-dsa-65' as 'ed25519');
  const node = await call<{ nodeId: string; credential: string }>(
    url,
    'POST',
    '/v1/edge/enroll',
    '',
    { token: token.token, ed25519: spki(ed.publicKey), mldsa65: spki(ml.publicKey) },
  );
  const devices: string[] = [];
  for (let d = 0; d < DRAIN_DEVICES; d++)
    devices.push(
      (
        await call<{ id: string }>(url, 'POST', '/v1/devices', key.secret, {
          name: `d${d}`,
          edgeNodeId: node.nodeId,
        })
      ).id,
    );
  return {
    devices,
    node: {
      url,
      nodeId: node.nodeId,
      credential: node.credential,
      ed25519: pem(ed.privateKey),
      mldsa65: pem(ml.privateKey),
    },
  };
}

/** Fills an outbox with `backlog` messages, then syncs it to a `palisade start` process. */
async function drain(dir: string, backlog: number, batch: number): Promise<Drained> {
  const platform = await startPalisade(ADMIN, [
    '--data',
    join(dir, 'platform'),
    '--mqtt',
    'off',
    '--edge-batch-max-messages',
    String(batch),
    '--body-limit',
    String(Math.max(1_048_576, batch * BATCH_BYTES_PER_MESSAGE)),
  ]);
  try {
    const { devices, node } = await enrolledNode(platform.url);
    const outbox = new Outbox(join(dir, 'drain.db'), randomBytes(32), { maxMessages: backlog });
    const base = Date.now() - 3_600_000;
    const filled = performance.now();
    for (let i = 0; i < backlog; i += FILL_CHUNK)
      outbox.acceptMany(
        Array.from({ length: Math.min(FILL_CHUNK, backlog - i) }, (_, k) => {
          const n = i + k;
          return {
            deviceId: devices[n % DRAIN_DEVICES]!,
            payload: { ts: base + Math.floor(n / DRAIN_DEVICES), values: { n } },
          };
        }),
      );
    const fillMs = performance.now() - filled;
    console.log(
      `  backlog built              ${rate(backlog, fillMs).padStart(8)} msgs/s   (${backlog.toLocaleString('en')} sealed, ${FILL_CHUNK.toLocaleString('en')} per transaction)`,
    );
    let points = 0;
    let confirmed = 0;
    let drained!: () => void;
    const empty = new Promise<void>((resolve) => {
      drained = resolve;
    });
    const loop = new SyncLoop(
      outbox,
      node,
      { ...DEFAULT_SYNC, batchMaxMessages: batch, idleMs: 5 },
      {
        synced: (sent, result) => {
          points += (result as { points: number }).points;
          confirmed += sent.messages.length;
          if (confirmed === backlog) drained();
        },
        failed: (error) => console.error(`  sync failed: ${(error as Error).message}`),
      },
    );
    const start = performance.now();
    const running = loop.run();
    await empty;
    const ms = performance.now() - start;
    loop.stop();
    await running;
    outbox.close();
    if (points !== backlog)
      throw new Error(`the platform stored ${points} points of ${backlog} messages`);
    return { ms, devices, base };
  } finally {
    await platform.stop();
  }
}

export async function run(args: string[]): Promise<void> {
  const backlog = Number(args[0] ?? 1_000_000);
  const batch = Number(args[1] ?? 5000);
  const devices = Number(args[2] ?? 200);
  const messages = Number(args[3] ?? 20);
  console.log(
    `edge: local ingest of ${devices} devices × ${messages} QoS 1 messages; drain of ${backlog.toLocaleString('en')} messages in batches of ${batch.toLocaleString('en')}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'palisade-bench-edge-'));
  try {
    await localIngest(dir, devices, messages);
    const drained = await drain(dir, backlog, batch);
    const drainMs = drained.ms;
    console.log(
      `  drain to the platform      ${rate(backlog, drainMs).padStart(8)} msgs/s   (signed batches, applied once, one ledger entry per device and batch)`,
    );
    const rawMs = rawInsertRate(dir, backlog, batch, drained);
    console.log(
      `  limit: raw SQLite insert   ${rate(backlog, rawMs).padStart(8)} rows/s   (same rows into the telemetry table, ${batch.toLocaleString('en')} per transaction, no crypto, no ledger)`,
    );
    console.log(`  drain / raw SQLite: ${(rawMs / drainMs).toFixed(2)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
