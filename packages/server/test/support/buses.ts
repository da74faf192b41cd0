import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  type Bus,
  type BusLimits,
  InProcessBus,
  NatsBus,
  streamName,
} from '../../src/bus/index.ts';
import { consumerName } from '../../src/bus/subjects.ts';
import { uuid7 } from '../../src/ids/index.ts';
import { issueTenantContext, type TenantContext } from '../../src/tenancy/tenant-context.ts';

export type BusName = Bus['name'];

/** The buses every bus suite runs on: in-process always, NATS when a server is configured. */
export function busNames(): BusName[] {
  return process.env.PALISADE_TEST_NATS_URL === undefined ? ['in-process'] : ['in-process', 'nats'];
}

/** A private bus for one test: open it (again, to test durability), then remove everything. */
export interface BusFixture {
  readonly name: BusName;
  readonly limits: BusLimits;
  /** Opens the bus; `overrides` change its limits for this opening only (same stream). */
  open(overrides?: Partial<BusLimits>): Promise<Bus>;
  /**
   * Resolves once the bus has removed a transient consumer whose process is gone: at once on
   * the in-process bus (a new opening removes it), when JetStream has on NATS.
   */
  transientGone(durable: string, tenantId: string): Promise<void>;
  /**
   * Whether `text` is anywhere the bus stores things, read behind its back: the bytes of
   * `bus.db` and its WAL, or every message (subject, headers, data) JetStream still serves.
   */
  stores(text: string): Promise<boolean>;
  /** The stored names of the bus's durable consumers. */
  consumers(): Promise<string[]>;
  cleanup(): Promise<void>;
}

/**
 * Short ack wait and retry so redelivery tests finish quickly (tests never assert on time).
 * NATS streams get a random prefix (`palisadet<hex>`, stream `PALISADET<HEX>`) deleted by
 * `cleanup`; the in-process bus a temporary folder.
 */
export function busFixture(name: BusName, overrides: Partial<BusLimits> = {}): BusFixture {
  const limits: BusLimits = {
    prefix: `palisadet${randomBytes(5).toString('hex')}`,
    ackWaitMs: 500,
    maxDeliver: 5,
    maxAgeMs: 3_600_000,
    maxPayload: 65_536,
    retryMs: 20,
    ...overrides,
  };
  const opened: Bus[] = [];
  const track = (bus: Bus) => {
    opened.push(bus);
    return bus;
  };
  if (name === 'in-process') {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-bus-'));
    return {
      name,
      limits,
      open: async (again = {}) =>
        track(
          new InProcessBus(join(dir, 'bus.db'), { ...limits, ...again, prefix: limits.prefix }),
        ),
      transientGone: async () => undefined,
      stores: async (text) =>
        ['bus.db', 'bus.db-wal'].some((file) => {
          const path = join(dir, file);
          return existsSync(path) && readFileSync(path).includes(text);
        }),
      consumers: async () => {
        const db = new DatabaseSync(join(dir, 'bus.db'), { readOnly: true });
        try {
          return db
            .prepare('SELECT name FROM consumers')
            .all()
            .map((row) => String(row.name));
        } finally {
          db.close();
        }
      },
      cleanup: async () => {
        await Promise.all(opened.map((bus) => bus.close()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const url = process.env.PALISADE_TEST_NATS_URL!;
  return {
    name,
    limits,
    open: async (again = {}) =>
      track(
        await NatsBus.open({
          ...limits,
          ...again,
          prefix: limits.prefix,
          url,
          duplicateWindowMs: 60_000,
        }),
      ),
    transientGone: async (durable, tenantId) => {
      const nc = await connect({ servers: url });
      try {
        const jsm = await jetstreamManager(nc);
        const consumer = consumerName(durable, tenantId);
        const exists = () =>
          jsm.consumers.info(streamName(limits.prefix), consumer).then(
            () => true,
            () => false,
          );
        for (let waited = 0; await exists(); waited += 200) {
          if (waited > 30_000) throw new Error(`JetStream kept transient consumer ${consumer}`);
          await sleep(200);
        }
      } finally {
        await nc.close();
      }
    },
    stores: (text) =>
      withJetStream(url, async (jsm) => {
        const stream = streamName(limits.prefix);
        for (let seq = 1; ; ) {
          const query = { next_by_subj: `${limits.prefix}.>`, seq } as unknown as { seq: number };
          const m = await jsm.streams.getMessage(stream, query);
          if (m === null) return false;
          const headers = m.header === undefined ? '' : [...m.header].join(' ');
          if (`${m.subject} ${headers} ${Buffer.from(m.data).toString()}`.includes(text))
            return true;
          seq = m.seq + 1;
        }
      }),
    consumers: () =>
      withJetStream(url, async (jsm) => {
        const names: string[] = [];
        for await (const info of await jsm.consumers.list(streamName(limits.prefix)))
          names.push(info.name);
        return names;
      }),
    cleanup: async () => {
      await Promise.all(opened.map((bus) => bus.close()));
      await deleteNatsStream(limits.prefix);
    },
  };
}

/** Runs `work` with a JetStream manager on a connection of its own. */
async function withJetStream<T>(url: string, work: (jsm: JetStreamManager) => Promise<T>) {
  const nc = await connect({ servers: url });
  try {
    return await work(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

/** Deletes the JetStream stream of a test prefix (and with it its consumers). */
export async function deleteNatsStream(prefix: string): Promise<void> {
  const url = process.env.PALISADE_TEST_NATS_URL;
  if (url === undefined) return;
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(streamName(prefix)).catch(() => undefined);
  await nc.close();
}

/** Platform settings flags that put a test platform on this bus under a fresh prefix. */
export function busFlags(name: BusName): Record<string, string> {
  const prefix = `palisadet${randomBytes(5).toString('hex')}`;
  return name === 'nats'
    ? { nats: process.env.PALISADE_TEST_NATS_URL!, busPrefix: prefix }
    : { busPrefix: prefix };
}

/** A TenantContext for a made-up tenant, as authentication would issue it. */
export function tenantContext(slug: string): TenantContext {
  const now = new Date().toISOString();
  return issueTenantContext(
    {
      id: uuid7(),
      slug,
      name: slug,
      plan: 'free',
      status: 'active',
      shard: 's1',
      createdAt: now,
      updatedAt: now,
    },
    { kind: 'api-key', id: uuid7() },
  );
}

/** Resolves when `predicate` holds, checking after every call of the returned `tick`. */
export function until(predicate: () => boolean): { tick: () => void; done: Promise<void> } {
  let resolve!: () => void;
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  const tick = () => {
    if (predicate()) resolve();
  };
  return { tick, done };
}
