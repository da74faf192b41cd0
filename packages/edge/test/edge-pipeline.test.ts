/**
 * The rules pipeline at a full outbox: a message the outbox refuses leaves no trace, neither
 * rows in the outbox nor rule state, so the device's resend is taken as if it were the first.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { EdgeDevice } from '../src/credentials/index.ts';
import { groupCommit } from '../src/listener/index.ts';
import { Outbox, OutboxFullError } from '../src/outbox.ts';
import { EdgePipeline, type Rule, RuleEngine } from '../src/rules/index.ts';

const T0 = 1_700_000_040_000;
const DEVICE: EdgeDevice = { deviceId: 'd', name: 'oven-1', type: 't' };

/** A pipeline for device `d` of type `t` under `rules`, over `outbox`. */
function pipelineOver(
  outbox: Outbox,
  rules: readonly Rule[],
  now: () => number = () => T0,
): EdgePipeline {
  const book = {
    revision: 'r1',
    ruleSets: [{ deviceType: 't', rules, updatedAt: new Date(T0).toISOString() }],
    devices: [{ id: 'd', type: 't' }],
  };
  return new EdgePipeline(outbox, new RuleEngine(book), {}, now);
}

/** Sends and confirms everything in the outbox; returns the payloads it held. */
function drain(outbox: Outbox): unknown[] {
  const payloads: unknown[] = [];
  for (;;) {
    const batch = outbox.nextBatch(1000, randomUUID);
    if (batch === undefined) return payloads;
    payloads.push(...batch.messages.map((m) => m.payload));
    outbox.confirm(batch.batchId);
  }
}

/** An outbox whose next group commit fails as a full disk would fail it: nothing is kept. */
class FailingCommit extends Outbox {
  failNext = false;

  override transaction<T>(work: () => T): T {
    if (!this.failNext) return super.transaction(work);
    this.failNext = false;
    return super.transaction(() => {
      work();
      throw new Error('disk I/O error');
    });
  }
}

describe('edge pipeline at a full outbox', () => {
  let dir: string;
  let outbox: Outbox;
  const open = (maxMessages: number) => {
    outbox = new Outbox(join(dir, 'outbox.db'), randomBytes(32), { maxMessages });
    return outbox;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edge-pipeline-'));
  });
  afterEach(() => {
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a value a deadband let through but the outbox refused is stored when resent', () => {
    const pipeline = pipelineOver(open(1), [{ kind: 'deadband', key: 'v', delta: 0 }]);
    outbox.accept('other', { x: 1 });
    const message = { ts: T0, values: { v: 5 } };
    assert.throws(() => pipeline.accept('d', message), OutboxFullError);
    drain(outbox);
    pipeline.accept('d', message);
    assert.deepEqual(drain(outbox), [message]);
  });

  test('a refused value is not counted into a downsample window', () => {
    const pipeline = pipelineOver(open(2), [
      { kind: 'downsample', key: 'v', windowMs: 1000, aggregate: 'count' },
    ]);
    outbox.acceptMany([
      { deviceId: 'other', payload: { x: 1 } },
      { deviceId: 'other', payload: { x: 2 } },
    ]);
    assert.throws(() => pipeline.accept('d', { ts: T0, values: { v: 1, w: 0 } }), OutboxFullError);
    drain(outbox);
    pipeline.accept('d', { ts: T0, values: { v: 1, w: 0 } });
    pipeline.flush();
    assert.deepEqual(drain(outbox), [
      { ts: T0, values: { w: 0 } },
      { ts: T0, values: { v: 1 } },
    ]);
  });

  test('a window that ends while the outbox is full is stored: its values were acknowledged', () => {
    let now = T0;
    const pipeline = pipelineOver(
      open(1),
      [{ kind: 'downsample', key: 'v', windowMs: 1000, aggregate: 'count' }],
      () => now,
    );
    pipeline.accept('d', { ts: T0, values: { v: 1 } });
    pipeline.accept('e', { x: 1 });
    now = T0 + 1000;
    pipeline.tick();
    assert.deepEqual(drain(outbox), [{ x: 1 }, { ts: T0, values: { v: 1 } }]);
  });

  test('a window open at a graceful stop is stored though the outbox is full', () => {
    const pipeline = pipelineOver(open(1), [
      { kind: 'downsample', key: 'v', windowMs: 1000, aggregate: 'sum' },
    ]);
    pipeline.accept('d', { ts: T0, values: { v: 2 } });
    pipeline.accept('e', { x: 1 });
    pipeline.flush();
    assert.deepEqual(drain(outbox), [{ x: 1 }, { ts: T0, values: { v: 2 } }]);
  });

  test('while the outbox is full, a value the rules would hold in a window is refused', () => {
    const pipeline = pipelineOver(open(1), [
      { kind: 'downsample', key: 'v', windowMs: 1000, aggregate: 'count' },
    ]);
    outbox.accept('other', { x: 1 });
    assert.throws(() => pipeline.accept('d', { ts: T0, values: { v: 1 } }), OutboxFullError);
    pipeline.flush();
    assert.deepEqual(drain(outbox), [{ x: 1 }], 'no window holds the refused value');
  });

  test('a group commit that fails leaves no rule state behind', async () => {
    const failing = new FailingCommit(join(dir, 'outbox.db'), randomBytes(32), {
      maxMessages: 10,
    });
    outbox = failing;
    const pipeline = pipelineOver(failing, [{ kind: 'deadband', key: 'v', delta: 0 }]);
    const take = groupCommit(failing, (device, _kind, payload) =>
      pipeline.accept(device.deviceId, payload),
    );
    const message = { ts: T0, values: { v: 5 } };
    failing.failNext = true;
    await assert.rejects(async () => take(DEVICE, 'telemetry', message), /disk I\/O error/);
    assert.equal(failing.size(), 0);
    await take(DEVICE, 'telemetry', message);
    assert.deepEqual(drain(failing), [message]);
  });

  test('an alert is not stored without the message that fired it, and fires on the resend', async () => {
    const pipeline = pipelineOver(open(2), [{ kind: 'alert', name: 'hot', key: 'c', above: 80 }]);
    const take = groupCommit(outbox, (device, _kind, payload) =>
      pipeline.accept(device.deviceId, payload),
    );
    outbox.accept('other', { x: 1 });
    const message = { ts: T0, values: { c: 90 } };
    await assert.rejects(async () => take(DEVICE, 'telemetry', message), OutboxFullError);
    assert.equal(outbox.size(), 1, 'the refused message left nothing in the outbox');
    drain(outbox);
    await take(DEVICE, 'telemetry', message);
    assert.deepEqual(drain(outbox), [
      { ts: T0, values: { 'alert.hot': { key: 'c', value: 90, state: 'firing', above: 80 } } },
      message,
    ]);
  });
});
