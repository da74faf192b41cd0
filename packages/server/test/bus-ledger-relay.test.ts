import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import pino from 'pino';
import { BusError, type PlatformBus } from '../src/bus/index.ts';
import { LedgerRelay } from '../src/bus/ledger-relay.ts';
import type { TenantLedgerReader } from '../src/store/index.ts';

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('a relay stopped while a tenant fails to publish leaves no retry timer behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bus-relay-'));
  const relay = new LedgerRelay({
    bus: {} as PlatformBus,
    cursorFile: join(dir, 'bus-outbox.db'),
    ledgerOf: async () => {
      throw new Error('the shard is unreachable');
    },
    latestCheckpoint: async () => undefined,
    retryMs: 60_000,
    logger: pino({ level: 'silent' }),
  });
  const before = timers();
  relay.markDirty('t1');
  await relay.stop();
  assert.equal(timers(), before, 'no retry is scheduled once the relay is stopped');
  rmSync(dir, { recursive: true, force: true });
});

test('a checkpoint event the bus refused is published again after the retry delay', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const dir = mkdtempSync(join(tmpdir(), 'bus-relay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const published: string[] = [];
  let refuse = true;
  const relay = new LedgerRelay({
    bus: {
      publish: async (_tenantId, event) => {
        if (refuse) {
          refuse = false;
          throw new BusError('PALISADE_BUS_UNAVAILABLE', 'NATS did not answer');
        }
        published.push(event.id);
      },
    } as PlatformBus,
    cursorFile: join(dir, 'bus-outbox.db'),
    ledgerOf: async () => undefined,
    latestCheckpoint: async () => undefined,
    retryMs: 1000,
    logger: pino({ level: 'silent' }),
  });
  relay.checkpointsSealed([
    { tenantId: 't1', tenantSize: 7, text: 'checkpoint', note: 'note', index: 3 },
  ]);
  await relay.drain();
  assert.deepEqual(published, []);
  t.mock.timers.tick(1000);
  await relay.drain();
  assert.deepEqual(published, ['t1:checkpoint:7']);
  await relay.stop();
});

test('a tenant forgotten while its pump publishes leaves no cursor behind, at once or at stop', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bus-relay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cursorFile = join(dir, 'bus-outbox.db');
  let publishing!: () => void;
  const published = new Promise<void>((resolve) => {
    publishing = resolve;
  });
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const entry = JSON.stringify({
    time: '2026-01-01T00:00:00Z',
    actor: 'a',
    action: 'devices.create',
  });
  const ledger = {
    ledgerHead: async () => ({ size: 1, nextSeq: 1 }),
    nonTelemetryEntries: async () => [
      { seq: 0, batch: 0, resource: 'devices/d1', entry, salt: null },
    ],
  } as unknown as TenantLedgerReader;
  const relay = new LedgerRelay({
    bus: {
      publishBatch: async () => {
        publishing();
        await released;
      },
    } as unknown as PlatformBus,
    cursorFile,
    ledgerOf: async () => ledger,
    latestCheckpoint: async () => undefined,
    retryMs: 60_000,
    logger: pino({ level: 'silent' }),
  });
  const rows = () => {
    const db = new DatabaseSync(cursorFile, { readOnly: true });
    try {
      return db.prepare('SELECT tenant, next_seq FROM published').all();
    } finally {
      db.close();
    }
  };
  relay.markDirty('t1');
  await published;
  relay.forget('t1');
  release();
  await relay.drain();
  assert.deepEqual(rows(), [], 'the running pump did not write the cursor back');
  relay.markDirty('t1');
  await relay.drain();
  await relay.stop();
  assert.deepEqual(rows(), [], 'nor a later notice, nor the stop');
});
