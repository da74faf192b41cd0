import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BusMessage } from '../src/bus/index.ts';
import { busFixture, tenantContext, until } from './support/buses.ts';

/** The in-process bus's consumer loop: the waits NATS JetStream keeps on its server. */

/** The longest delay a Node.js timer keeps; a longer one fires after 1 ms instead. */
const TIMER_MAX_MS = 2 ** 31 - 1;

test('a consumer whose next message is due beyond 2^31 - 1 ms sleeps until then', async (t) => {
  const ackWaitMs = TIMER_MAX_MS + 1000;
  const fixture = busFixture('in-process', { ackWaitMs });
  t.after(() => fixture.cleanup());
  const bus = await fixture.open();
  const a = tenantContext('a');
  await bus.publish(a, { kind: 'record', key: 'k', id: 'unacked', payload: {} });
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
  const timers = t.mock.method(globalThis, 'setTimeout');
  const deliveries: number[] = [];
  const { tick, done } = until(() => deliveries.length === 2);
  // Never acked: it comes back after the ack wait.
  const sub = await bus.subscribe(a, {
    durable: 'slow',
    handler: async (m: BusMessage) => {
      deliveries.push(m.deliveryCount);
      tick();
    },
  });
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  while (!timers.mock.calls.some((call) => Number(call.arguments[1]) >= 2 ** 30)) await turn();
  const armed = timers.mock.callCount();
  for (let ms = 0; ms < 10; ms++) {
    t.mock.timers.tick(1);
    await turn();
  }
  assert.equal(timers.mock.callCount(), armed, 'the consumer woke before its message was due');
  assert.deepEqual(deliveries, [1]);
  t.mock.timers.tick(TIMER_MAX_MS);
  t.mock.timers.tick(ackWaitMs - TIMER_MAX_MS);
  await done;
  assert.deepEqual(deliveries, [1, 2]);
  await sub.stop();
});

test("a tenant's messages an erasure has not reached yet are not delivered while it runs", async (t) => {
  const fixture = busFixture('in-process');
  t.after(() => fixture.cleanup());
  const bus = await fixture.open();
  const a = tenantContext('a');
  const b = tenantContext('b');
  const many = Array.from({ length: 10_000 }, (_, i) => ({
    kind: 'record' as const,
    key: 'k',
    id: `a${i}`,
    payload: {},
  }));
  await bus.platform.publishBatch(a.tenantId, many);
  await bus.publish(b, { kind: 'record', key: 'k', id: 'b1', payload: {} });
  const seen: string[] = [];
  const handler = async (m: BusMessage) => {
    seen.push(m.id);
    await m.ack();
    tick();
  };
  await (await bus.platform.subscribe({ durable: 'all', handler: async () => undefined })).stop();
  const erasing = bus.platform.eraseTenant(a.tenantId);
  // Resumed after the erasure's first batch, before its last.
  const { tick, done } = until(() => seen.includes('b1'));
  const resumed = await bus.platform.subscribe({ durable: 'all', handler });
  await erasing;
  await done;
  await resumed.stop();
  assert.deepEqual(seen, ['b1']);
  await bus.close();
});
