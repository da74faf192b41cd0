/**
 * Delivery of server-side RPC requests through the RPC queue, on SQLite and PostgreSQL:
 * every queued request reaches a device that attaches, and none twice, however attaching
 * and sending interleave, in one process or across processes (the internal channel on NATS).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, mock, test } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { LocalKms, MasterKey } from '@palisade/crypto';
import pino, { type Logger } from 'pino';
import { GroupCommitter } from '../src/commit/index.ts';
import { type DeviceIdentity, type OutgoingRpc, RpcService } from '../src/devices/index.ts';
import { RpcDelivery } from '../src/devices/rpc-delivery.ts';
import { rpcStatusChange } from '../src/devices/rpc-status.ts';
import { ChannelRpcRemote, InternalChannel, ServiceTokens } from '../src/internal/index.ts';
import { storeLocator, type TenantStoreLocator } from '../src/records/index.ts';
import type { RpcRow } from '../src/store/index.ts';
import { issueTenantContext } from '../src/tenancy/tenant-context.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { ACKNOWLEDGED, AWAITING_ACK } from './support/rpc-written.ts';

const NATS = process.env.PALISADE_TEST_NATS_URL;

/** More queued requests than one attach sends in a round. */
const MANY_QUEUED = 130;
/** rpcQueueMax of the queue-bound suite. */
const QUEUE_MAX = 3;

/** Resolves once `done()` holds, checking after every turn of the event loop, until the test ends. */
async function until(done: () => boolean, signal: AbortSignal): Promise<void> {
  while (!done()) {
    signal.throwIfAborted();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** `target[name]`; a method comes bound to `target`, whose private fields it may use. */
function bound(target: object, name: string | symbol): unknown {
  const value: unknown = Reflect.get(target, name, target);
  return typeof value === 'function' ? value.bind(target) : value;
}

/** `locate` whose stores call `read` after each read of a device's queued requests. */
function observedLocate(locate: TenantStoreLocator, read: () => void): TenantStoreLocator {
  return async (context) => {
    const store = await locate(context);
    const devices = new Proxy(store.reader.devices, {
      get: (target, name) =>
        name !== 'pendingRpcs'
          ? bound(target, name)
          : async (...args: Parameters<typeof target.pendingRpcs>) => {
              const rows = await target.pendingRpcs(...args);
              read();
              return rows;
            },
    });
    const reader = new Proxy(store.reader, {
      get: (target, name) => (name === 'devices' ? devices : bound(target, name)),
    });
    return new Proxy(store, {
      get: (target, name) => (name === 'reader' ? reader : bound(target, name)),
    });
  };
}

test("a failure to send an attaching device's queue is logged, never an unhandled rejection", async () => {
  const warnings: string[] = [];
  const rpc = new RpcService({
    locate: async () => {
      throw new Error('the store is unreachable');
    },
    committer: new GroupCommitter({ maxBatch: 1, maxWaitMs: 0, seal: async () => undefined }),
    defaultTimeoutMs: 1000,
    maxTimeoutMs: 1000,
    queueMax: 1000,
    logger: { warn: (_: object, message: string) => warnings.push(message) } as unknown as Logger,
  });
  const device = { context: { tenantId: 't' }, deviceId: 'd' } as unknown as DeviceIdentity;
  const detach = rpc.attach(device, async () => ACKNOWLEDGED);
  while (warnings.length === 0) await new Promise((resolve) => setImmediate(resolve));
  assert.match(warnings[0]!, /queued requests .* failed/);
  detach();
});

for (const backend of backendNames()) {
  describe(`RPC delivery on ${backend}`, () => {
    let api: TestApi;
    let t: { id: string; key: string };

    before(async () => {
      api = await TestApi.start(backend);
      t = await api.tenant('rpc');
    });
    after(() => api.close());

    const newDevice = async (name: string): Promise<{ id: string; identity: DeviceIdentity }> => {
      const made = await api.call('POST', '/v1/devices', t.key, { name });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const identity = await api.platform.devices.authority.byAccessToken(
        made.body.credentials.token,
      );
      return { id: made.body.id, identity: identity! };
    };
    const queue = async (deviceId: string, method: string): Promise<string> => {
      const queued = await api.call('POST', `/v1/devices/${deviceId}/rpc`, t.key, {
        method,
        persistent: true,
        timeoutMs: 600_000,
      });
      assert.equal(queued.status, 201, JSON.stringify(queued.body));
      return queued.body.id;
    };

    test('a device that attaches gets every queued request, not only the first round', async (tc) => {
      const { id, identity } = await newDevice('backlog');
      const queued: string[] = [];
      for (let i = 0; i < MANY_QUEUED; i++) queued.push(await queue(id, `m${i}`));
      const received: string[] = [];
      const detach = api.platform.devices.rpc.attach(identity, async (request) => {
        received.push(request.requestId);
        return ACKNOWLEDGED;
      });
      await until(() => received.length >= MANY_QUEUED, tc.signal);
      detach();
      assert.deepEqual(received, queued);
    });

    test('a request whose expiry passes before it is delivered is answered, and stored, as expired', async () => {
      const { id, identity } = await newDevice('too-late');
      // The clock moves past the expiry while the device's only connection fails to take the
      // request; the server's timers do not move.
      mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const detach = api.platform.devices.rpc.attach(identity, async () => {
        mock.timers.tick(61_000);
        throw new Error('the connection is closing');
      });
      try {
        for (const persistent of [true, false]) {
          const created = await api.call('POST', `/v1/devices/${id}/rpc`, t.key, {
            method: 'late',
            persistent,
            timeoutMs: 60_000,
          });
          assert.equal(created.status, persistent ? 201 : 200, JSON.stringify(created.body));
          assert.equal(created.body.status, 'expired', `persistent: ${persistent}`);
          const store = await api.platform.stores.shards
            .get((await api.platform.stores.controlPlane.getTenant(t.id))!.shard)!
            .tenant(t.id);
          const stored = await store.reader.devices.getRpc(id, created.body.id);
          assert.equal(stored?.status, 'expired', 'the stored request says so too');
          const read = await api.call('GET', `/v1/devices/${id}/rpc/${created.body.id}`, t.key);
          assert.equal(read.body.status, 'expired');
        }
      } finally {
        detach();
        mock.timers.reset();
      }
    });

    test("a failed send puts back only its own claim, not another process's redelivery claimed in the same millisecond", async () => {
      const { id, identity } = await newDevice('same-millisecond');
      const rpcId = await queue(id, 'toggle');
      const tenant = (await api.platform.stores.controlPlane.getTenant(t.id))!;
      const store = await api.platform.stores.shards.get(tenant.shard)!.tenant(t.id);
      const committer = new GroupCommitter({
        maxBatch: 1,
        maxWaitMs: 0,
        seal: async () => undefined,
      });
      const change = rpcStatusChange(async () => store, committer);
      let putBack!: (row: RpcRow | undefined) => void;
      const putBackDone = new Promise<RpcRow | undefined>((resolve) => {
        putBack = resolve;
      });
      const delivery = new RpcDelivery({
        locate: async () => store,
        change: async (context, deviceId, rpc, from, next) => {
          const row = await change(context, deviceId, rpc, from, next);
          if (next.status === 'queued') putBack(row);
          return row;
        },
        remote: undefined,
        logger: undefined,
      });
      const detach = delivery.attach(identity, async () => {
        // Another process redelivers the request, claiming it within this claim's millisecond.
        const claim = (await store.reader.devices.getRpc(id, rpcId))!;
        assert.equal(claim.status, 'sent');
        const again = await store.transaction((tx) =>
          tx.devices.updateRpc(
            id,
            rpcId,
            ['queued', 'sent'],
            { status: 'sent', sentBefore: '9999-12-31T00:00:00.000Z' },
            claim.updatedAt,
          ),
        );
        assert.notEqual(again, undefined);
        throw new Error('the connection closed');
      });
      const back = await putBackDone;
      detach();
      assert.equal(back, undefined, "the other process's claim is not put back");
      assert.equal((await store.reader.devices.getRpc(id, rpcId))?.status, 'sent');
    });

    test('a request being sent to one connection is not sent again to a connection that attaches meanwhile', async (tc) => {
      const { id, identity } = await newDevice('reconnecting');
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const first: OutgoingRpc[] = [];
      const detachFirst = api.platform.devices.rpc.attach(identity, async (request) => {
        first.push(request);
        await released;
        return ACKNOWLEDGED;
      });
      const call = api.call('POST', `/v1/devices/${id}/rpc`, t.key, {
        method: 'toggle',
        timeoutMs: 600_000,
      });
      await until(() => first.length === 1, tc.signal);
      const toggle = first[0]!.requestId;

      // The device reconnects while the request is still on its way to the old connection.
      const second: string[] = [];
      const detachSecond = api.platform.devices.rpc.attach(identity, async (request) => {
        second.push(request.requestId);
        return ACKNOWLEDGED;
      });
      detachFirst();
      // Something to wait for: a new request goes to the new connection.
      const marker = await queue(id, 'marker');
      await until(() => second.includes(marker), tc.signal);
      assert.deepEqual(second, [marker], 'the new connection did not get the toggle too');

      release();
      await api.platform.devices.rpc.respond(identity, toggle, { on: true });
      assert.equal((await call).body.status, 'succeeded');
      detachSecond();
      assert.deepEqual(
        first.map((r) => r.requestId),
        [toggle],
      );
    });
  });

  describe(`RPC delivery across processes on ${backend}`, { skip: NATS === undefined }, () => {
    let api: TestApi;
    let t: { id: string; key: string };
    let ncs: NatsConnection[];
    /** The api process that stores requests, and two ingest processes holding connections. */
    let processes: { rpc: RpcService; nc: NatsConnection; queueReads: () => number }[];

    before(async () => {
      api = await TestApi.start(backend);
      t = await api.tenant('rpc-scale-out');
      const master = MasterKey.generate();
      const prefix = `palisadet${randomBytes(5).toString('hex')}`;
      ncs = await Promise.all([0, 1, 2].map(() => connect({ servers: NATS! })));
      const locate = storeLocator(api.platform.stores.shards);
      processes = (['api', 'ingest', 'ingest'] as const).map((role, i) => {
        let reads = 0;
        const channel = new InternalChannel({
          nc: ncs[i]!,
          prefix,
          tokens: new ServiceTokens(new LocalKms(master), { role, pid: `${role}-${i}` }, 10_000),
          requestTimeoutMs: 30_000,
          logger: pino({ level: 'silent' }),
        });
        const rpc = new RpcService({
          locate: observedLocate(locate, () => reads++),
          // Each process commits on its own, as separate processes on one database do.
          committer: new GroupCommitter({
            maxBatch: 16,
            maxWaitMs: 0,
            seal: async () => undefined,
          }),
          defaultTimeoutMs: 600_000,
          maxTimeoutMs: 600_000,
          queueMax: 1000,
          remote: new ChannelRpcRemote(channel),
        });
        return { rpc, nc: ncs[i]!, queueReads: () => reads };
      });
    });
    after(async () => {
      await Promise.all(ncs.map((nc) => nc.close()));
      await api.close();
    });

    const newDevice = async (name: string) => {
      const made = await api.call('POST', '/v1/devices', t.key, { name });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const identity = (await api.platform.devices.authority.byAccessToken(
        made.body.credentials.token,
      ))!;
      const tenant = (await api.platform.stores.controlPlane.getTenant(t.id))!;
      const context = issueTenantContext(tenant, { kind: 'api-key', id: 'rpc-scale-out' });
      return { made, identity, context };
    };

    test('a device connected to two processes gets a request from a third once', async (tc) => {
      const { made, identity, context } = await newDevice('two-connections');
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      // Each connection holds the request until released: a second send cannot hide behind
      // the first one's status change.
      const received: string[] = [];
      const [caller, ...ingest] = processes;
      const detach = ingest.map(({ rpc }) =>
        rpc.attach(identity, async (request) => {
          received.push(request.requestId);
          await released;
          return AWAITING_ACK;
        }),
      );
      // The server must hold both delivery subscriptions before the request comes.
      for (const { nc } of ingest) await nc.flush();

      let answered = false;
      const call = caller!.rpc
        .create(context, made.body.id, { method: 'toggle', persistent: true, timeoutMs: 600_000 })
        .finally(() => {
          answered = true;
        });
      // Once one process took it, the other answers the delivery request and the call returns;
      // a second send shows at once.
      await until(() => received.length === 2 || answered, tc.signal);
      release();
      const row = await call;
      for (const off of detach) off();
      assert.deepEqual(received, [row.id], 'one connection got the request, once');
      assert.equal(row.status, 'sent');
    });

    test('a request its connection failed to take goes to the device, connected to another process by then', {
      // Bounds only a failure (the request never reaching the second process).
      timeout: 60_000,
    }, async (tc) => {
      const { made, identity, context } = await newDevice('moving');
      const [caller, first, second] = processes;
      let fail!: () => void;
      const failing = new Promise<void>((resolve) => {
        fail = resolve;
      });
      const received: string[] = [];
      const detachFirst = first!.rpc.attach(identity, async () => {
        received.push('first');
        await failing;
        detachFirst(); // the connection is gone
        throw new Error('the connection closed');
      });
      await first!.nc.flush();
      const call = caller!.rpc.create(context, made.body.id, {
        method: 'toggle',
        persistent: true,
        timeoutMs: 600_000,
      });
      await until(() => received.length === 1, tc.signal);
      // The device reconnects to another process while the request is on its way to the old
      // connection: the new one's attach finds it claimed.
      const reads = second!.queueReads();
      const detachSecond = second!.rpc.attach(identity, async () => {
        received.push('second');
        return AWAITING_ACK;
      });
      await second!.nc.flush();
      await until(() => second!.queueReads() > reads, tc.signal);
      fail();
      await until(() => received.length === 2, tc.signal);
      await call;
      detachSecond();
      assert.deepEqual(received, ['first', 'second']);
      const read = await api.call(
        'GET',
        `/v1/devices/${made.body.id}/rpc/${(await call).id}`,
        t.key,
      );
      assert.equal(read.body.status, 'sent');
    });
  });

  describe(`RPC queue bound on ${backend}`, () => {
    let api: TestApi;
    let t: { id: string; key: string };

    before(async () => {
      api = await TestApi.start(backend, { rpcQueueMax: String(QUEUE_MAX) });
      t = await api.tenant('rpc-bound');
    });
    after(() => api.close());

    const newDevice = async (name: string) => {
      const made = await api.call('POST', '/v1/devices', t.key, { name });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const identity = (await api.platform.devices.authority.byAccessToken(
        made.body.credentials.token,
      ))!;
      const tenant = (await api.platform.stores.controlPlane.getTenant(t.id))!;
      const store = await api.platform.stores.shards.get(tenant.shard)!.tenant(t.id);
      /** The device's queued, unexpired requests as stored. */
      const queued = async () =>
        (await store.reader.devices.pendingRpcs(made.body.id, new Date().toISOString(), 100))
          .length;
      return { id: made.body.id as string, identity, tenant, queued };
    };
    const send = (deviceId: string, body: object) =>
      api.call('POST', `/v1/devices/${deviceId}/rpc`, t.key, { method: 'set', ...body });

    test('a device holds at most rpcQueueMax queued persistent requests; one more is refused', async () => {
      const { id, identity, queued } = await newDevice('bounded');
      for (let i = 0; i < QUEUE_MAX; i++) {
        const made = await send(id, { persistent: true, timeoutMs: 600_000 });
        assert.equal(made.status, 201, JSON.stringify(made.body));
      }
      const refused = await send(id, { persistent: true, timeoutMs: 600_000 });
      assert.equal(refused.status, 409);
      assert.equal(refused.body.code, 'PALISADE_RPC_QUEUE_LIMIT');
      assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
      assert.equal(await queued(), QUEUE_MAX, 'nothing more was stored');
      // A two-way call is not queued: it still fails at once, the device being offline.
      const twoWay = await send(id, {});
      assert.equal(twoWay.status, 200);
      assert.equal(twoWay.body.status, 'failed');

      // Requests the device took leave room.
      const received: string[] = [];
      const detach = api.platform.devices.rpc.attach(identity, async (request) => {
        received.push(request.requestId);
        return ACKNOWLEDGED;
      });
      while ((await queued()) > 0) await new Promise((resolve) => setImmediate(resolve));
      detach();
      assert.equal(received.length, QUEUE_MAX);
      for (let i = 0; i < QUEUE_MAX; i++)
        assert.equal((await send(id, { persistent: true, timeoutMs: 60_000 })).status, 201);
      assert.equal((await send(id, { persistent: true })).status, 409);

      // So do expired ones, before the retention job marks them.
      mock.timers.enable({ apis: ['Date'], now: Date.now() });
      try {
        mock.timers.tick(61_000);
        assert.equal((await send(id, { persistent: true, timeoutMs: 60_000 })).status, 201);
      } finally {
        mock.timers.reset();
      }
    });

    test('concurrent requests from processes of their own never pass the bound', async () => {
      const { id, tenant, queued } = await newDevice('contended');
      const context = issueTenantContext(tenant, { kind: 'api-key', id: 'rpc-bound' });
      const locate = storeLocator(api.platform.stores.shards);
      // Each its own committer, so each one's requests are one transaction racing the others.
      const processes = Array.from(
        { length: 4 },
        () =>
          new RpcService({
            locate,
            committer: new GroupCommitter({
              maxBatch: 16,
              maxWaitMs: 0,
              seal: async () => undefined,
            }),
            defaultTimeoutMs: 600_000,
            maxTimeoutMs: 600_000,
            queueMax: QUEUE_MAX,
          }),
      );
      const outcomes = await Promise.allSettled(
        processes.flatMap((rpc) =>
          Array.from({ length: QUEUE_MAX }, () =>
            rpc.create(context, id, { method: 'set', persistent: true, timeoutMs: 600_000 }),
          ),
        ),
      );
      const taken = outcomes.filter((o) => o.status === 'fulfilled').length;
      for (const o of outcomes)
        if (o.status === 'rejected') assert.equal(o.reason.code, 'PALISADE_RPC_QUEUE_LIMIT');
      assert.equal(taken, QUEUE_MAX);
      assert.equal(await queued(), QUEUE_MAX);
    });
  });
}
