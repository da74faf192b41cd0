import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import type { PlatformBus } from '../src/bus/index.ts';
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
