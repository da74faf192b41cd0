/**
 * Delivery of server-side RPC requests through the RPC queue, on SQLite and PostgreSQL:
 * every queued request reaches a device that attaches, and none twice, however attaching
 * and sending interleave.
 */
import assert from 'node:assert/strict';
import { after, before, describe, mock, test } from 'node:test';
import type { Logger } from 'pino';
import { GroupCommitter } from '../src/commit/index.ts';
import { type DeviceIdentity, type OutgoingRpc, RpcService } from '../src/devices/index.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/** More queued requests than one attach sends in a round. */
const MANY_QUEUED = 130;

/** Resolves once `done()` holds, checking after every turn of the event loop, until the test ends. */
async function until(done: () => boolean, signal: AbortSignal): Promise<void> {
  while (!done()) {
    signal.throwIfAborted();
    await new Promise((resolve) => setImmediate(resolve));
  }
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
    logger: { warn: (_: object, message: string) => warnings.push(message) } as unknown as Logger,
  });
  const device = { context: { tenantId: 't' }, deviceId: 'd' } as unknown as DeviceIdentity;
  const detach = rpc.attach(device, async () => undefined);
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
}
