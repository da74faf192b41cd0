/**
 * `npm run bench -- bus [nats://URL]`: events/s through each bus from one run — publishing one
 * at a time, publishing in batches of BATCH (what the ledger relay does after a group commit),
 * and one durable consumer receiving and acking them all. With NATS (the URL argument,
 * PALISADE_TEST_NATS_URL, or nats://127.0.0.1:4222 when it answers) the peer is raw JetStream
 * publishing of the same payloads with `Nats-Msg-Id`, and the ratio is printed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  type Bus,
  type BusEvent,
  type BusLimits,
  InProcessBus,
  NatsBus,
  streamName,
} from '../packages/server/src/bus/index.ts';
import { uuid7 } from '../packages/server/src/ids/uuid7.ts';

/** Events per measured phase. */
const EVENTS = 20_000;
/** Events per publishBatch (one fsync in process, one PubAck wait on NATS). */
const BATCH = 100;

const payload = {
  seq: 0,
  batch: 0,
  time: new Date().toISOString(),
  actor: 'bench',
  action: 'record.create',
  resource: 'collections/b/records/x',
};
const events = (tenant: string, from: number, n: number): BusEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    kind: 'record',
    key: ['b', `r${(from + i) % 64}`],
    id: `${tenant}:${from + i}`,
    payload: { ...payload, seq: from + i },
  }));

function rate(n: number, ms: number): string {
  return `${Math.round((n * 1000) / ms).toLocaleString('en')} events/s`;
}

async function measure(bus: Bus): Promise<Record<string, number>> {
  const tenant = uuid7();
  const single = Math.min(EVENTS, 5_000);
  let start = performance.now();
  for (const e of events(tenant, 0, single)) await bus.platform.publish(tenant, e);
  const one = performance.now() - start;
  start = performance.now();
  for (let i = single; i < single + EVENTS; i += BATCH)
    await bus.platform.publishBatch(tenant, events(tenant, i, BATCH));
  const batched = performance.now() - start;
  const total = single + EVENTS;
  let received = 0;
  start = performance.now();
  await new Promise<void>((resolve, reject) => {
    bus.platform
      .subscribe({
        durable: 'bench',
        handler: async (m) => {
          await m.ack();
          if (++received === total) resolve();
        },
      })
      .catch(reject);
  });
  const consumed = performance.now() - start;
  console.log(`  publish one at a time : ${rate(single, one)}`);
  console.log(`  publish batches of ${BATCH} : ${rate(EVENTS, batched)}`);
  console.log(`  consume + ack          : ${rate(total, consumed)}`);
  return { batched: (EVENTS * 1000) / batched };
}

async function natsUrl(args: string[]): Promise<string | undefined> {
  const url = args[0] ?? process.env.PALISADE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
  try {
    const nc = await connect({ servers: url, timeout: 1000 });
    await nc.close();
    return url;
  } catch {
    return undefined;
  }
}

export async function run(args: string[]): Promise<void> {
  const limits: BusLimits = {
    prefix: `palisadeb${randomBytes(4).toString('hex')}`,
    ackWaitMs: 30_000,
    maxDeliver: 5,
    maxAgeMs: 3_600_000,
    maxPayload: 1_048_576,
    retryMs: 1000,
  };
  const dir = mkdtempSync(join(tmpdir(), 'palisade-bench-bus-'));
  console.log('in-process bus (SQLite stream, fsync per publish call):');
  const local = new InProcessBus(join(dir, 'bus.db'), limits);
  await measure(local);
  await local.close();
  rmSync(dir, { recursive: true, force: true });

  const url = await natsUrl(args);
  if (url === undefined) {
    console.log('NATS: no server answers; pass nats://HOST:PORT to compare');
    return;
  }
  console.log(`NATS JetStream bus (${new URL(url).host}):`);
  const nats = await NatsBus.open({ ...limits, url, duplicateWindowMs: 120_000 });
  try {
    const ours = await measure(nats);
    const nc = await connect({ servers: url });
    const js = jetstream(nc);
    const tenant = uuid7();
    const raw = events(tenant, 0, EVENTS).map((e) => ({
      subject: `${limits.prefix}.${tenant}.record.${(e.key as string[]).join('.')}`,
      id: e.id,
      json: JSON.stringify(e.payload),
    }));
    const start = performance.now();
    for (let i = 0; i < raw.length; i += BATCH) {
      await Promise.all(
        raw
          .slice(i, i + BATCH)
          .map((e) => js.publish(e.subject, e.json, { msgID: `${tenant}/${e.id}` })),
      );
    }
    const peer = (EVENTS * 1000) / (performance.now() - start);
    console.log(
      `  peer: raw JetStream publish, batches of ${BATCH}: ${rate(EVENTS, (EVENTS * 1000) / peer)}`,
    );
    console.log(`  ratio (bus / raw JetStream): ${(ours.batched! / peer).toFixed(2)}×`);
    await nc.close();
  } finally {
    await nats.close();
    const nc = await connect({ servers: url });
    await (await jetstreamManager(nc)).streams
      .delete(streamName(limits.prefix))
      .catch(() => undefined);
    await nc.close();
  }
}
