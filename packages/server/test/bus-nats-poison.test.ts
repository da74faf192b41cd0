import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { busFixture, tenantContext, until } from './support/buses.ts';

const NATS = process.env.PALISADE_TEST_NATS_URL;

test('a message on the stream that is not JSON is terminated, and the consumer goes on', {
  skip: NATS === undefined && 'needs PALISADE_TEST_NATS_URL',
}, async (t) => {
  const fixture = busFixture('nats');
  t.after(() => fixture.cleanup());
  const bus = await fixture.open();
  const context = tenantContext('acme');
  const seen: string[] = [];
  const { tick, done } = until(() => seen.includes('after'));
  const sub = await bus.subscribe(context, {
    durable: 'poison',
    handler: async (m) => {
      seen.push(m.id);
      await m.ack();
      tick();
    },
  });
  const nc = await connect({ servers: NATS });
  t.after(() => nc.close());
  await jetstream(nc).publish(`${fixture.limits.prefix}.${context.tenantId}.record.x`, '{not');
  await bus.publish(context, { kind: 'record', key: 'y', id: 'after', payload: {} });
  await done;
  assert.deepEqual(seen, ['after']);
  await sub.stop();
});
