/**
 * Server-side RPC over MQTT is at least once, on SQLite and PostgreSQL: a request is
 * `delivered` only once the device PUBACKed it, never sent again after that, and sent again
 * when its connection ended before the PUBACK, or when the process that wrote it stopped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { type Platform, type Settings, startPlatform } from '../src/index.ts';
import type { TenantStore } from '../src/store/index.ts';
import { ADMIN_TOKEN } from './support/api.ts';
import { type BackendName, backendNames } from './support/backends.ts';
import { messageInbox, mqttClient } from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';

const REQUESTS = 'v1/devices/me/rpc/request/+';
/** `mqttRpcAckWaitMs` of these platforms (the default). */
const ACK_WAIT_MS = 10_000;
/** Bounds only a failure: a request that never becomes what the test waits for. */
const FAILURE_BOUND = { timeout: 60_000 };

/** Between two reads of a request that has not changed yet. */
const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

/** A device connection listening for requests; `next` resolves with each one's request id. */
async function listening(url: string, token: string, options: { puback: boolean }) {
  const client = await mqttClient(url, { username: token });
  // MQTT.js writes a QoS 1 PUBACK once handleMessage calls back; withheld, it never does.
  if (!options.puback) client.handleMessage = () => undefined;
  const inbox = messageInbox(client);
  await client.subscribeAsync(REQUESTS, { qos: 1 });
  const next = async () => (await inbox())[0].split('/').at(-1)!;
  return { client, next };
}

/**
 * A persistent request the platform claimed at `claimedAt` (as before writing it to a
 * connection), after which the platform stops before any PUBACK: a crash, which puts nothing
 * back.
 */
async function claimedByStoppedPlatform(p: MqttPlatform, slug: string, claimedAt: string) {
  const t = await p.tenant(slug);
  const dev = await p.device(t.key, `${slug}-device`);
  const queued = await p.call('POST', `/v1/devices/${dev.id}/rpc`, t.key, {
    method: 'open',
    persistent: true,
    timeoutMs: 600_000,
  });
  assert.equal(queued.body.status, 'queued', JSON.stringify(queued.body));
  const tenant = (await p.platform.stores.controlPlane.getTenant(t.id))!;
  const store = await p.platform.stores.shards.get(tenant.shard)!.tenant(t.id);
  const claimed = await store.transaction((tx) =>
    tx.devices.updateRpc(dev.id, queued.body.id, ['queued'], { status: 'sent' }, claimedAt),
  );
  assert.equal(claimed?.status, 'sent');
  await p.platform.close();
  return { t, dev, rpcId: queued.body.id as string };
}

/**
 * `test` in a describe of its own, given a platform it stops and `startNext`, which starts
 * another on its stores (with `overrides`); both are closed after it.
 */
function afterStop(
  backend: BackendName,
  title: string,
  name: string,
  test: (
    p: MqttPlatform,
    startNext: (overrides?: Partial<Settings>) => Promise<Platform>,
  ) => Promise<void>,
): void {
  describe(title, () => {
    let p: MqttPlatform;
    let next: Platform | undefined;

    before(async () => {
      p = await startMqttPlatform(backend);
    });
    after(async () => {
      await next?.close();
      await p.close();
    });

    it(name, FAILURE_BOUND, () =>
      test(p, async (overrides = {}) => {
        next = await startPlatform({
          ...p.fixture.settings,
          ...overrides,
          adminToken: ADMIN_TOKEN,
        });
        return next;
      }),
    );
  });
}

for (const backend of backendNames()) {
  describe(`RPC over MQTT at least once (${backend})`, () => {
    let p: MqttPlatform;
    let t: { id: string; key: string };
    let store: TenantStore;

    before(async () => {
      p = await startMqttPlatform(backend);
      t = await p.tenant('at-least-once');
      const tenant = (await p.platform.stores.controlPlane.getTenant(t.id))!;
      store = await p.platform.stores.shards.get(tenant.shard)!.tenant(t.id);
    });
    after(() => p.close());

    const queue = async (call: (typeof p)['call'], deviceId: string, method: string) => {
      const made = await call('POST', `/v1/devices/${deviceId}/rpc`, t.key, {
        method,
        persistent: true,
        timeoutMs: 600_000,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return made.body.id as string;
    };
    const status = async (deviceId: string, rpcId: string) =>
      (await p.call('GET', `/v1/devices/${deviceId}/rpc/${rpcId}`, t.key)).body.status as string;
    /** Resolves once the request reads `wanted`. */
    const until = async (deviceId: string, rpcId: string, wanted: string) => {
      while ((await status(deviceId, rpcId)) !== wanted) await pause();
    };
    const ledgered = async (deviceId: string, rpcId: string) => {
      const head = await store.reader.ledgerHead();
      return (await store.reader.ledgerEntries(0, head.nextSeq))
        .filter((e) => e.resource === `devices/${deviceId}/rpc/${rpcId}`)
        .map((e) => (JSON.parse(e.entry) as { action: string }).action);
    };
    const answer = (client: MqttClient, rpcId: string) =>
      client.publishAsync(`v1/devices/me/rpc/response/${rpcId}`, '"done"', { qos: 1 });

    it(
      'a request whose connection ended before its PUBACK goes out again on the next one, never delivered meanwhile',
      FAILURE_BOUND,
      async () => {
        const dev = await p.device(t.key, 'dropped');
        const first = await listening(p.url, dev.token, { puback: false });
        const rpcId = await queue(p.call, dev.id, 'open');
        assert.equal(await first.next(), rpcId);
        assert.equal(await status(dev.id, rpcId), 'sent', 'received, not acknowledged');
        first.client.stream.destroy();
        first.client.end(true);

        const second = await listening(p.url, dev.token, { puback: true });
        const marker = await queue(p.call, dev.id, 'marker');
        assert.equal(await second.next(), rpcId, 'the request comes before anything newer');
        assert.equal(await second.next(), marker);
        await until(dev.id, rpcId, 'delivered');
        await answer(second.client, rpcId);
        assert.equal(await status(dev.id, rpcId), 'succeeded');
        assert.deepEqual(await ledgered(dev.id, rpcId), [
          'rpc.create',
          'rpc.sent',
          'rpc.queued',
          'rpc.sent',
          'rpc.delivered',
          'rpc.succeeded',
        ]);
        await second.client.endAsync();
      },
    );

    it(
      'a request the device PUBACKed is delivered, and not sent again when it reconnects',
      FAILURE_BOUND,
      async () => {
        const dev = await p.device(t.key, 'acknowledging');
        const first = await listening(p.url, dev.token, { puback: true });
        const rpcId = await queue(p.call, dev.id, 'close');
        assert.equal(await first.next(), rpcId);
        await until(dev.id, rpcId, 'delivered');
        await first.client.endAsync();

        const second = await listening(p.url, dev.token, { puback: true });
        const marker = await queue(p.call, dev.id, 'marker');
        assert.equal(await second.next(), marker, 'the delivered request is not sent again');
        assert.equal(await status(dev.id, rpcId), 'delivered');
        await answer(second.client, rpcId);
        assert.equal(await status(dev.id, rpcId), 'succeeded');
        assert.deepEqual(await ledgered(dev.id, rpcId), [
          'rpc.create',
          'rpc.sent',
          'rpc.delivered',
          'rpc.succeeded',
        ]);
        await second.client.endAsync();
      },
    );
  });

  afterStop(
    backend,
    `RPC over MQTT after the platform that sent it stopped (${backend})`,
    'a request it claimed and never saw acknowledged goes out when the device attaches to another',
    async (p, startNext) => {
      const claimedAt = new Date(Date.now() - 2 * ACK_WAIT_MS).toISOString();
      const { t, dev, rpcId } = await claimedByStoppedPlatform(p, 'stopped', claimedAt);

      const next = await startNext();
      const device = await listening(next.mqtt!.url, dev.token, { puback: true });
      assert.equal(await device.next(), rpcId);
      const read = async () =>
        (
          await next.http.inject({
            method: 'GET',
            url: `/v1/devices/${dev.id}/rpc/${rpcId}`,
            headers: { authorization: `Bearer ${t.key}` },
          })
        ).json().status;
      while ((await read()) !== 'delivered') await pause();
      await device.client.endAsync();
    },
  );

  afterStop(
    backend,
    `RPC over MQTT right after the platform that sent it stopped (${backend})`,
    'a fresh claim it left goes out to a device already attached once the claim outlives the bound',
    async (p, startNext) => {
      // Claimed a moment before the platform stops: the device reconnects well within the
      // bound, so its attach finds the claim too young to take over.
      const { dev, rpcId } = await claimedByStoppedPlatform(p, 'crashed', new Date().toISOString());

      const next = await startNext({ mqttRpcAckWaitMs: 1000 });
      const device = await listening(next.mqtt!.url, dev.token, { puback: true });
      assert.equal(await device.next(), rpcId, 'sent without a reconnect');
      await device.client.endAsync();
    },
  );
}
