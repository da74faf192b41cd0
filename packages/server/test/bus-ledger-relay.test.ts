import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { BusError, type PlatformBus } from '../src/bus/index.ts';
import { LedgerRelay } from '../src/bus/ledger-relay.ts';

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
