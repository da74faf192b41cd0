import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { type Bus, BusError, type BusMessage, type GivenUpMessage } from '../src/bus/index.ts';
import { busFixture, busNames, tenantContext, until } from './support/buses.ts';

/**
 * One suite, every bus (STYLE #7): in-process always, NATS JetStream when
 * PALISADE_TEST_NATS_URL is set. Each test has its own stream (a random prefix) and waits
 * for a sentinel message rather than for time.
 */

function event(id: string, key: string | string[] = 'k1', payload: unknown = { id }) {
  return { kind: 'record' as const, key, id, payload };
}

/** Subscribes, acking everything, and resolves once `last` has been seen. */
async function collect(
  bus: Bus,
  subscribe: (handler: (m: BusMessage) => Promise<void>) => Promise<{ stop(): Promise<void> }>,
  last: string,
) {
  const seen: BusMessage[] = [];
  const { tick, done } = until(() => seen.some((m) => m.id === last));
  const sub = await subscribe(async (m) => {
    seen.push(m);
    await m.ack();
    tick();
  });
  await done;
  await sub.stop();
  void bus;
  return seen;
}

function isBusError(code: BusError['code']) {
  return (error: unknown) => error instanceof BusError && error.code === code;
}

for (const name of busNames()) {
  describe(`bus conformance: ${name}`, () => {
    test('delivers in publish order per key, on tenant-namespaced subjects', async (t) => {
      const fixture = busFixture(name);
      t.after(() => fixture.cleanup());
      const bus = await fixture.open();
      const a = tenantContext('a');
      for (let i = 0; i < 20; i++)
        await bus.publish(a, event(`m${i}`, ['orders', i % 2 === 0 ? 'even' : 'odd']));
      const seen = await collect(
        bus,
        (handler) => bus.subscribe(a, { durable: 'order', handler }),
        'm19',
      );
      assert.deepEqual(
        seen.map((m) => m.id),
        Array.from({ length: 20 }, (_, i) => `m${i}`),
      );
      const first = seen[0]!;
      assert.equal(first.subject, `${fixture.limits.prefix}.${a.tenantId}.record.orders.even`);
      assert.equal(first.tenantId, a.tenantId);
      assert.equal(first.kind, 'record');
      assert.deepEqual(first.key, ['orders', 'even']);
      assert.deepEqual(first.payload, { id: 'm0' });
      assert.equal(first.deliveryCount, 1);
    });

    test('redelivers what is not acked after the ack wait, what is nak’d, and what a handler threw on', async (t) => {
      const fixture = busFixture(name);
      t.after(() => fixture.cleanup());
      const bus = await fixture.open();
      const a = tenantContext('a');
      await bus.publish(a, event('ignored'));
      await bus.publish(a, event('nakked'));
      await bus.publish(a, event('thrown'));
      const counts = new Map<string, number[]>();
      const { tick, done } = until(() =>
        ['ignored', 'nakked', 'thrown'].every((id) => counts.get(id)?.includes(2)),
      );
      const sub = await bus.subscribe(a, {
        durable: 'redeliver',
        handler: async (m) => {
          counts.set(m.id, [...(counts.get(m.id) ?? []), m.deliveryCount]);
          tick();
          if (m.deliveryCount > 1) return m.ack();
          if (m.id === 'nakked') return m.nak();
          if (m.id === 'thrown') throw new Error('handler failed');
          // 'ignored': neither ack nor nak; the ack wait brings it back.
        },
      });
      await done;
      await sub.stop();
      for (const id of ['ignored', 'nakked', 'thrown'])
        assert.deepEqual(counts.get(id)?.slice(0, 2), [1, 2], id);
    });

    test('gives up on a message after maxDeliver deliveries, reports it, and goes on', async (t) => {
      const givenUp: GivenUpMessage[] = [];
      const deliveries: number[] = [];
      let after = false;
      const { tick, done } = until(() => after && givenUp.length > 0);
      const fixture = busFixture(name, {
        maxDeliver: 2,
        onGiveUp: (given) => {
          givenUp.push(given);
          tick();
        },
      });
      t.after(() => fixture.cleanup());
      const bus = await fixture.open();
      const a = tenantContext('a');
      await bus.publish(a, event('poison'));
      await bus.publish(a, event('after'));
      const sub = await bus.subscribe(a, {
        durable: 'poisoned',
        handler: async (m) => {
          if (m.id === 'poison') {
            deliveries.push(m.deliveryCount);
            throw new Error('handler cannot process it');
          }
          await m.ack();
          after = true;
          tick();
        },
      });
      await done;
      await sub.stop();
      assert.deepEqual(deliveries, [1, 2]);
      assert.deepEqual(givenUp, [
        {
          durable: 'poisoned',
          id: 'poison',
          tenantId: a.tenantId,
          subject: `${fixture.limits.prefix}.${a.tenantId}.record.k1`,
          deliveries: 2,
        },
      ]);
    });

    test('a durable consumer resumes where it was after the bus is re-created', async (t) => {
      const fixture = busFixture(name);
      t.after(() => fixture.cleanup());
      const a = tenantContext('a');
      const first = await fixture.open();
      for (const id of ['r1', 'r2']) await first.publish(a, event(id));
      const before = await collect(
        first,
        (handler) => first.subscribe(a, { durable: 'resume', handler }),
        'r2',
      );
      assert.deepEqual(
        before.map((m) => m.id),
        ['r1', 'r2'],
      );
      await first.close();
      const second = await fixture.open();
      for (const id of ['r3', 'r4']) await second.publish(a, event(id));
      const after = await collect(
        second,
        (handler) => second.subscribe(a, { durable: 'resume', handler }),
        'r4',
      );
      assert.deepEqual(
        after.map((m) => m.id),
        ['r3', 'r4'],
      );
    });

    test('a durable consumer takes the ack wait of the bus that opens it', async (t) => {
      const fixture = busFixture(name, { ackWaitMs: 3_600_000 });
      t.after(() => fixture.cleanup());
      const a = tenantContext('a');
      const first = await fixture.open();
      await (await first.subscribe(a, { durable: 'retuned', handler: () => undefined })).stop();
      await first.close();
      const second = await fixture.open({ ackWaitMs: 500 });
      await second.publish(a, event('ignored'));
      const deliveries: number[] = [];
      const { tick, done } = until(() => deliveries.includes(2));
      const sub = await second.subscribe(a, {
        durable: 'retuned',
        // Neither ack nor nak: only the ack wait brings it back.
        handler: (m) => {
          deliveries.push(m.deliveryCount);
          tick();
        },
      });
      await done;
      await sub.stop();
      assert.deepEqual(deliveries.slice(0, 2), [1, 2]);
    });

    test('stores a republished id once, per tenant', async (t) => {
      const fixture = busFixture(name);
      t.after(() => fixture.cleanup());
      const bus = await fixture.open();
      const a = tenantContext('a');
      const b = tenantContext('b');
      await bus.publish(a, event('dup'));
      await bus.publish(a, event('dup'));
      await bus.platform.publishBatch(a.tenantId, [event('dup'), event('other'), event('other')]);
      await bus.publish(b, event('dup'));
      await bus.publish(a, event('end'));
      const seen = await collect(
        bus,
        (handler) => bus.platform.subscribe({ durable: 'dedupe', handler }),
        'end',
      );
      assert.deepEqual(
        seen.map((m) => `${m.tenantId === a.tenantId ? 'a' : 'b'}:${m.id}`),
        ['a:dup', 'a:other', 'b:dup', 'a:end'],
      );
    });

    test("a tenant's consumer sees only its tenant's subjects, whatever the keys try", async (t) => {
      const fixture = busFixture(name);
      t.after(() => fixture.cleanup());
      const bus = await fixture.open();
      const a = tenantContext('a');
      const b = tenantContext('b');
      const injections = [
        '*',
        '>',
        'a.b',
        `${b.tenantId}.record.x`,
        'a b',
        'a\tb',
        'x\n',
        '$SYS',
        '',
        'é',
        'a*',
        'k>',
      ];
      for (const key of injections) {
        await assert.rejects(
          bus.publish(a, event('inject', key)),
          isBusError('PALISADE_BUS_INVALID_SUBJECT'),
          JSON.stringify(key),
        );
        await assert.rejects(
          bus.publish(a, event('inject', ['ok', key])),
          isBusError('PALISADE_BUS_INVALID_SUBJECT'),
        );
      }
      await bus.publish(a, event('a1', 'same'));
      await bus.publish(b, event('b1', 'same'));
      await bus.publish(a, event('a2', 'same'));
      await bus.publish(b, event('b2', 'same'));
      // The same durable name in two tenants is two consumers.
      const seenA = await collect(
        bus,
        (handler) => bus.subscribe(a, { durable: 'same', handler }),
        'a2',
      );
      const seenB = await collect(
        bus,
        (handler) => bus.subscribe(b, { durable: 'same', handler }),
        'b2',
      );
      assert.deepEqual(
        seenA.map((m) => m.id),
        ['a1', 'a2'],
      );
      assert.deepEqual(
        seenB.map((m) => m.id),
        ['b1', 'b2'],
      );
      assert.ok(
        seenA.every(
          (m) =>
            m.tenantId === a.tenantId &&
            m.subject.startsWith(`${fixture.limits.prefix}.${a.tenantId}.`),
        ),
      );
      assert.ok(seenB.every((m) => m.tenantId === b.tenantId));
      // Only the explicit platform-wide API sees both.
      const all = await collect(
        bus,
        (handler) => bus.platform.subscribe({ durable: 'all', handler }),
        'b2',
      );
      assert.deepEqual(
        all.map((m) => m.id),
        ['a1', 'b1', 'a2', 'b2'],
      );
    });

    test('a kind filter delivers only that kind', async (t) => {
      const fixture = busFixture(name);
      t.after(() => fixture.cleanup());
      const bus = await fixture.open();
      const a = tenantContext('a');
      await bus.publish(a, event('rec'));
      await bus.publish(a, { kind: 'ledger', key: 'checkpoint', id: 'cp1', payload: { size: 1 } });
      await bus.publish(a, { kind: 'ledger', key: 'checkpoint', id: 'cp2', payload: { size: 2 } });
      const seen = await collect(
        bus,
        (handler) => bus.subscribe(a, { durable: 'ledger', kind: 'ledger', handler }),
        'cp2',
      );
      assert.deepEqual(
        seen.map((m) => m.id),
        ['cp1', 'cp2'],
      );
    });

    test("a consumer made with from: 'new' starts after the newest event; an existing one resumes", async (t) => {
      const fixture = busFixture(name);
      t.after(() => fixture.cleanup());
      const bus = await fixture.open();
      const a = tenantContext('a');
      for (const id of ['old1', 'old2']) await bus.publish(a, event(id));
      const subscribe = (handler: (m: BusMessage) => Promise<void>) =>
        bus.subscribe(a, { durable: 'live', from: 'new', handler });
      const seen: BusMessage[] = [];
      const { tick, done } = until(() => seen.some((m) => m.id === 'new1'));
      const sub = await subscribe(async (m) => {
        seen.push(m);
        await m.ack();
        tick();
      });
      await bus.publish(a, event('new1'));
      await done;
      await sub.stop();
      assert.deepEqual(
        seen.map((m) => m.id),
        ['new1'],
      );
      await bus.publish(a, event('new2'));
      const resumed = await collect(bus, subscribe, 'new2');
      assert.deepEqual(
        resumed.map((m) => m.id),
        ['new2'],
      );
    });

    test('a transient consumer left by a process that died is removed; a durable one stays', async (t) => {
      const fixture = busFixture(name, { transientIdleMs: 1_000 });
      t.after(() => fixture.cleanup());
      const a = tenantContext('a');
      const dead = await fixture.open();
      for (const durable of ['view', 'worker']) {
        const sub = await dead.subscribe(a, {
          durable,
          from: 'new',
          transient: durable === 'view',
          handler: (m) => m.ack(),
        });
        void sub; // never stopped nor deleted: its process dies with the bus
      }
      await dead.close();
      const bus = await fixture.open();
      await bus.publish(a, event('missed'));
      await fixture.transientGone('view', a.tenantId);
      const seen = async (durable: string, sentinel: string) => {
        const got: string[] = [];
        const { tick, done } = until(() => got.includes(sentinel));
        const sub = await bus.subscribe(a, {
          durable,
          from: 'new',
          handler: async (m) => {
            got.push(m.id);
            await m.ack();
            tick();
          },
        });
        await bus.publish(a, event(sentinel));
        await done;
        await sub.stop();
        return got;
      };
      // The view starts afresh after the newest event; the worker resumes with what it missed.
      assert.deepEqual(await seen('view', 'now1'), ['now1']);
      assert.deepEqual(await seen('worker', 'now2'), ['missed', 'now1', 'now2']);
    });

    test('erasing a tenant leaves none of its messages or consumers, and others lose nothing', async (t) => {
      const fixture = busFixture(name);
      t.after(() => fixture.cleanup());
      const bus = await fixture.open();
      const [a, b] = [tenantContext('a'), tenantContext('b')];
      const secret = `reading-of-the-erased-${randomBytes(6).toString('hex')}`;
      const telemetry = (id: string) => ({
        kind: 'telemetry' as const,
        key: 'dev',
        id,
        payload: { points: [{ key: 'pulse', value: secret }] },
      });
      await bus.publish(b, event('b1'));
      await bus.publish(a, event('a1', 'k1', { note: secret }));
      await bus.publish(b, event('b2'));
      await bus.publish(a, telemetry('a2'));
      await bus.publish(b, event('b3'));
      // Other tenants' traffic then grows the store past its first pages, moving what it held
      // (where a file store can leave copies of the secret's bytes in space it no longer uses).
      for (let n = 0; n < 40; n++)
        await bus.publish(b, event(`b-fill-${n}`, 'k1', { fill: 'x'.repeat(1500) }));
      // The erased tenant's consumer holds a delivery unacked; another tenant's consumer stays.
      const held = until(() => true);
      await (await bus.subscribe(a, { durable: 'a-worker', handler: () => held.tick() })).stop();
      await (await bus.subscribe(b, { durable: 'b-worker', handler: (m) => m.ack() })).stop();
      // A consumer of every tenant is part-way through, with another tenant's b1 unacked.
      const first = until(() => true);
      const worker = await bus.platform.subscribe({
        durable: 'all',
        handler: async (m) => {
          if (m.id === 'b1') return first.tick();
          await m.ack();
        },
      });
      await first.done;
      await worker.stop();
      assert.ok(await fixture.stores(secret), 'the secret is stored before (the check sees it)');

      await bus.platform.eraseTenant(a.tenantId);
      await bus.publish(a, telemetry('a3'));
      await bus.publish(b, event('b4'));

      assert.equal(await fixture.stores(secret), false, 'no byte of the erased messages is left');
      const consumers = await fixture.consumers();
      assert.ok(!consumers.some((c) => c.includes(a.tenantId)), consumers.join());
      assert.ok(
        consumers.some((c) => c.includes(b.tenantId)),
        consumers.join(),
      );
      const seen: string[] = [];
      const after = until(() => ['b1', 'b2', 'b3', 'b4'].every((id) => seen.includes(id)));
      const resumed = await bus.platform.subscribe({
        durable: 'all',
        handler: async (m) => {
          seen.push(m.id);
          await m.ack();
          after.tick();
        },
      });
      await after.done;
      await resumed.stop();
      assert.deepEqual(
        seen.filter((id) => id.startsWith('a')),
        [],
      );
    });

    test('two processes erasing one tenant at once both finish, and leave none of it', async (t) => {
      // Every process erases a deleted tenant when the notice reaches it, and the deleting
      // process once more: on a shared bus the erasures overlap.
      const fixture = busFixture(name);
      t.after(() => fixture.cleanup());
      const first = await fixture.open();
      const second = name === 'in-process' ? first : await fixture.open();
      const [a, b] = [tenantContext('a'), tenantContext('b')];
      // More than one listing's worth (1,000) on NATS, with the other tenant's in between.
      for (let i = 0; i < 1_200; i += 100) {
        await Promise.all(
          Array.from({ length: 100 }, (_, j) => first.publish(a, event(`a${i + j}`))),
        );
        if (i === 500) await first.publish(b, event('b1'));
      }

      await Promise.all([
        first.platform.eraseTenant(a.tenantId),
        second.platform.eraseTenant(a.tenantId),
        first.platform.eraseTenant(a.tenantId),
      ]);

      const seen = await collect(
        first,
        (handler) => first.platform.subscribe({ durable: 'after', handler }),
        'b1',
      );
      assert.deepEqual(
        seen.map((m) => m.id),
        ['b1'],
      );
    });

    test('rejects bad input with typed errors', async (t) => {
      const fixture = busFixture(name, { maxPayload: 2048 });
      t.after(() => fixture.cleanup());
      const bus = await fixture.open();
      const a = tenantContext('a');
      const handler = () => undefined;
      const bad = (e: unknown) => bus.publish(a, e as Parameters<Bus['publish']>[1]);
      await assert.rejects(
        bad({ kind: 'secrets', key: 'k', id: 'x', payload: 1 }),
        isBusError('PALISADE_BUS_INVALID_SUBJECT'),
      );
      await assert.rejects(
        bad({ kind: 'record', key: [], id: 'x', payload: 1 }),
        isBusError('PALISADE_BUS_INVALID_SUBJECT'),
      );
      await assert.rejects(
        bad({ kind: 'record', key: ['a', 'b', 'c', 'd', 'e'], id: 'x', payload: 1 }),
        isBusError('PALISADE_BUS_INVALID_SUBJECT'),
      );
      await assert.rejects(
        bad({ kind: 'record', key: 'k', id: '', payload: 1 }),
        isBusError('PALISADE_BUS_INVALID_NAME'),
      );
      await assert.rejects(
        bad({ kind: 'record', key: 'k', id: 'has space', payload: 1 }),
        isBusError('PALISADE_BUS_INVALID_NAME'),
      );
      await assert.rejects(
        bad({ kind: 'record', key: 'k', id: 'x', payload: 1n }),
        isBusError('PALISADE_BUS_INVALID_PAYLOAD'),
      );
      await assert.rejects(
        bad({ kind: 'record', key: 'k', id: 'x', payload: undefined }),
        isBusError('PALISADE_BUS_INVALID_PAYLOAD'),
      );
      await assert.rejects(
        bad({ kind: 'record', key: 'k', id: 'x', payload: 'x'.repeat(4096) }),
        isBusError('PALISADE_BUS_INVALID_PAYLOAD'),
      );
      for (const durable of ['', 'a.b', 'a*', 'a>', 'a b', 'x'.repeat(65)]) {
        await assert.rejects(
          bus.subscribe(a, { durable, handler }),
          isBusError('PALISADE_BUS_INVALID_NAME'),
          durable,
        );
      }
      await assert.rejects(
        bus.subscribe(a, { durable: 'k', kind: 'nope' as 'record', handler }),
        isBusError('PALISADE_BUS_INVALID_SUBJECT'),
      );
      await assert.rejects(
        bus.platform.publish('not.a.tenant', event('x')),
        isBusError('PALISADE_BUS_INVALID_SUBJECT'),
      );
      const sub = await bus.subscribe(a, { durable: 'filtered', kind: 'record', handler });
      await sub.stop();
      await assert.rejects(
        bus.subscribe(a, { durable: 'filtered', kind: 'ledger', handler }),
        isBusError('PALISADE_BUS_CONSUMER_CONFLICT'),
      );
      await bus.platform.deleteConsumer('filtered', a.tenantId);
      await (await bus.subscribe(a, { durable: 'filtered', kind: 'ledger', handler })).stop();
      await bus.close();
      await assert.rejects(bus.publish(a, event('late')), isBusError('PALISADE_BUS_UNAVAILABLE'));
    });
  });
}
