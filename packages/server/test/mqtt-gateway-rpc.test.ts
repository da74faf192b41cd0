/**
 * Server-side RPC to a gateway's children over `v1/gateway/rpc` (ThingsBoard gateway API),
 * on the real platform with MQTT.js as the gateway, on SQLite and PostgreSQL: queued
 * requests reach a child once its gateway connects it and listens, two-way calls get the
 * gateway's answer (stored and ledgered as a direct device's), an answer is taken only for
 * the gateway's own child and that child's request, and a disconnected child is not reached.
 * Across processes (PostgreSQL and NATS), an api process reaches a child whose gateway is
 * connected to an ingest process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { type Platform, startPlatform } from '../src/index.ts';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { backendNames, scaleOutConfigured } from './support/backends.ts';
import { busFlags, deleteNatsStream } from './support/buses.ts';
import {
  messageInbox,
  mqttClient,
  publishOutcome,
  subscribeGranted,
} from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';
import { WRITTEN_STATUS } from './support/rpc-written.ts';

const GATEWAY_RPC = 'v1/gateway/rpc';

/** A request as the gateway receives it. */
interface GatewayRequest {
  readonly device: string;
  readonly data: { readonly id: string; readonly method: string; readonly params: unknown };
}

/** The requests a client receives on `v1/gateway/rpc`, taken one at a time. */
function gatewayInbox(client: MqttClient): () => Promise<GatewayRequest> {
  const next = messageInbox(client);
  return async () => {
    const [topic, request] = await next();
    assert.equal(topic, GATEWAY_RPC);
    return request as GatewayRequest;
  };
}

/** A gateway connection listening on `v1/gateway/rpc`, and its inbox. */
async function listeningGateway(url: string, token: string) {
  const client = await mqttClient(url, { username: token });
  const next = gatewayInbox(client);
  assert.deepEqual(await subscribeGranted(client, { [GATEWAY_RPC]: { qos: 1 } }), [
    { topic: GATEWAY_RPC, qos: 1 },
  ]);
  return { client, next };
}

function connectChild(client: MqttClient, name: string) {
  return publishOutcome(client, 'v1/gateway/connect', JSON.stringify({ device: name }));
}

for (const backend of backendNames()) {
  describe(`gateway RPC to child devices (${backend})`, () => {
    let p: MqttPlatform;
    let t: { id: string; key: string };

    before(async () => {
      p = await startMqttPlatform(backend);
      t = await p.tenant('gateway-rpc');
    });
    after(() => p.close());

    const deviceId = (name: string) => p.deviceId(t.key, name);
    /** A gateway whose child `name` exists (connected once, then the connection ended). */
    const gatewayWithChild = async (gatewayName: string, name: string) => {
      const gw = await p.device(t.key, gatewayName, true);
      const once = await mqttClient(p.url, { username: gw.token });
      assert.equal(await connectChild(once, name), 'acknowledged');
      await once.endAsync();
      return { gw, childId: (await deviceId(name))! };
    };
    const rpc = (id: string, body: object) =>
      p.call('POST', `/v1/devices/${id}/rpc`, t.key, { timeoutMs: 600_000, ...body });
    const status = async (id: string, rpcId: string) =>
      (await p.call('GET', `/v1/devices/${id}/rpc/${rpcId}`, t.key)).body;
    const answer = (client: MqttClient, body: unknown) =>
      publishOutcome(client, GATEWAY_RPC, typeof body === 'string' ? body : JSON.stringify(body));

    for (const order of ['subscribe, then connect', 'connect, then subscribe'] as const)
      it(`a persistent request queued for a child reaches its gateway, once (${order})`, async () => {
        const name = `queued-${order.startsWith('sub') ? 'a' : 'b'}`;
        const { gw, childId } = await gatewayWithChild(`gw-${name}`, name);
        const queued = await rpc(childId, {
          method: 'open',
          params: { valve: 2 },
          persistent: true,
        });
        assert.equal(queued.status, 201, JSON.stringify(queued.body));
        assert.equal(queued.body.status, 'queued', 'nobody reaches the child yet');

        const client = await mqttClient(p.url, { username: gw.token });
        const next = gatewayInbox(client);
        const subscribe = () => subscribeGranted(client, { [GATEWAY_RPC]: { qos: 1 } });
        if (order === 'subscribe, then connect') await subscribe();
        assert.equal(await connectChild(client, name), 'acknowledged');
        if (order === 'connect, then subscribe') await subscribe();
        assert.deepEqual(await next(), {
          device: name,
          data: { id: queued.body.id, method: 'open', params: { valve: 2 } },
        });
        assert.match((await status(childId, queued.body.id)).status, WRITTEN_STATUS);
        // Not sent twice: the next message the gateway gets is the next request.
        const marker = await rpc(childId, { method: 'marker', persistent: true });
        assert.match(marker.body.status, WRITTEN_STATUS);
        assert.equal((await next()).data.id, marker.body.id);
        await client.endAsync();
      });

    it("a two-way call to a connected child gets the gateway's answer, stored and ledgered as a device's", async () => {
      const gw = await p.device(t.key, 'gw-two-way', true);
      const { client, next } = await listeningGateway(p.url, gw.token);
      assert.equal(await connectChild(client, 'thermostat'), 'acknowledged');
      const childId = (await deviceId('thermostat'))!;
      const call = rpc(childId, { method: 'setTemp', params: { c: 21 }, timeoutMs: 60_000 });
      const request = await next();
      assert.equal(request.device, 'thermostat');
      assert.equal(request.data.method, 'setTemp');
      const reply = { device: 'thermostat', id: request.data.id, data: { c: 21, ok: true } };
      assert.equal(await answer(client, reply), 'acknowledged');
      const done = await call;
      assert.equal(done.status, 200);
      assert.equal(done.body.status, 'succeeded', JSON.stringify(done.body));
      assert.deepEqual(done.body.response, { c: 21, ok: true });
      const stored = await status(childId, request.data.id);
      assert.equal(stored.status, 'succeeded');
      assert.deepEqual(stored.response, { c: 21, ok: true });

      // The same as a device that answers for itself: created, sent, succeeded, by the device
      // (delivered in between when the gateway's PUBACK came before its answer).
      const tenant = (await p.platform.stores.controlPlane.getTenant(t.id))!;
      const store = await p.platform.stores.shards.get(tenant.shard)!.tenant(t.id);
      const entries = await store.reader.ledgerEntries(
        0,
        (await store.reader.ledgerHead()).nextSeq,
      );
      const ledgered = entries
        .filter((e) => e.resource === `devices/${childId}/rpc/${request.data.id}`)
        .map((e) => JSON.parse(e.entry) as { action: string; actor: string });
      const actions = ledgered.map((e) => e.action);
      assert.deepEqual(
        actions.filter((action) => action !== 'rpc.delivered'),
        ['rpc.create', 'rpc.sent', 'rpc.succeeded'],
      );
      assert.equal(ledgered.at(-1)!.actor, `device:${childId}`);

      // A second answer to the same request is dropped, as a device's is; the gateway stays.
      assert.equal(await answer(client, { ...reply, data: 'again' }), 'acknowledged');
      assert.equal(client.connected, true);
      assert.deepEqual((await status(childId, request.data.id)).response, { c: 21, ok: true });
      await client.endAsync();
    });

    it('a gateway answers only for its own child and that child’s requests; nothing else changes', async () => {
      const gw = await p.device(t.key, 'gw-honest', true);
      const mine = await listeningGateway(p.url, gw.token);
      assert.equal(await connectChild(mine.client, 'mine-1'), 'acknowledged');
      assert.equal(await connectChild(mine.client, 'mine-2'), 'acknowledged');
      const mine1 = (await deviceId('mine-1'))!;
      const own = await rpc(mine1, { method: 'own', persistent: true });
      assert.equal((await mine.next()).data.id, own.body.id);

      // A device of the tenant that is no gateway's child, connected and holding a request.
      const plain = await p.device(t.key, 'plain-device');
      const direct = await mqttClient(p.url, { username: plain.token });
      const got = new Promise<string>((resolve) =>
        direct.once('message', (topic) => resolve(topic.split('/').at(-1)!)),
      );
      await direct.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
      const plainRpc = await rpc(plain.id, { method: 'plain', persistent: true });
      assert.equal(await got, plainRpc.body.id);

      // Another gateway's child, connected through that gateway, holding a request.
      const other = await p.device(t.key, 'gw-other', true);
      const theirs = await listeningGateway(p.url, other.token);
      assert.equal(await connectChild(theirs.client, 'theirs'), 'acknowledged');
      const theirsId = (await deviceId('theirs'))!;
      const theirsRpc = await rpc(theirsId, { method: 'theirs', persistent: true });
      assert.equal((await theirs.next()).data.id, theirsRpc.body.id);

      const refused: Array<[string, unknown]> = [
        ['a device of no gateway', { device: 'plain-device', id: plainRpc.body.id, data: 1 }],
        ["another gateway's child", { device: 'theirs', id: theirsRpc.body.id, data: 1 }],
        ['a device that does not exist', { device: 'nobody', id: own.body.id, data: 1 }],
        ['the gateway itself', { device: 'gw-honest', id: own.body.id, data: 1 }],
        ["its child, another child's request", { device: 'mine-2', id: own.body.id, data: 1 }],
        ['no device', { id: own.body.id, data: 1 }],
        ['no id', { device: 'mine-1', data: 1 }],
        ['an id the server never gives', { device: 'mine-1', id: 7, data: 1 }],
        ['not an object', [{ device: 'mine-1', id: own.body.id }]],
        ['not JSON', '{"device": "mine-1", "id": '],
      ];
      for (const [what, body] of refused) {
        const client = await mqttClient(p.url, { username: gw.token });
        assert.equal(await answer(client, body), 'refused', what);
        assert.equal(client.connected, false, `${what}: the connection is closed`);
      }
      assert.match((await status(plain.id, plainRpc.body.id)).status, WRITTEN_STATUS);
      assert.match((await status(theirsId, theirsRpc.body.id)).status, WRITTEN_STATUS);
      assert.match((await status(mine1, own.body.id)).status, WRITTEN_STATUS);
      assert.equal(await deviceId('nobody'), undefined, 'an answer creates no device');

      // The rightful answers are still taken.
      assert.equal(
        await answer(theirs.client, { device: 'theirs', id: theirsRpc.body.id, data: 'ok' }),
        'acknowledged',
      );
      assert.equal((await status(theirsId, theirsRpc.body.id)).status, 'succeeded');
      const ownAnswer = { device: 'mine-1', id: own.body.id, data: 'ok' };
      assert.equal(await answer(mine.client, ownAnswer), 'acknowledged');
      assert.equal((await status(mine1, own.body.id)).status, 'succeeded');
      await Promise.all([mine.client, theirs.client, direct].map((c) => c.endAsync()));

      for (const [reason, code] of [
        ['invalid_payload', 'PALISADE_FORBIDDEN'],
        ['invalid_payload', 'PALISADE_RPC_NOT_FOUND'],
        ['invalid_payload', 'none'],
        ['invalid_json', 'none'],
      ] as const)
        assert.ok((await p.refusals(reason, code)) > 0, `${reason} ${code} is counted`);
    });

    it('after v1/gateway/disconnect of a child, a new persistent request for it stays queued', async () => {
      const gw = await p.device(t.key, 'gw-leaving', true);
      const { client, next } = await listeningGateway(p.url, gw.token);
      assert.equal(await connectChild(client, 'leaving'), 'acknowledged');
      assert.equal(await connectChild(client, 'staying'), 'acknowledged');
      const leaving = (await deviceId('leaving'))!;
      const staying = (await deviceId('staying'))!;
      assert.match(
        (await rpc(leaving, { method: 'before', persistent: true })).body.status,
        WRITTEN_STATUS,
      );
      assert.equal((await next()).device, 'leaving');
      const gone = JSON.stringify({ device: 'leaving' });
      assert.equal(await publishOutcome(client, 'v1/gateway/disconnect', gone), 'acknowledged');
      const queued = await rpc(leaving, { method: 'after', persistent: true });
      assert.equal(queued.body.status, 'queued');
      // The gateway still listens for its other child: the next request it gets is that one's.
      const marker = await rpc(staying, { method: 'marker', persistent: true });
      assert.match(marker.body.status, WRITTEN_STATUS);
      assert.equal((await next()).data.id, marker.body.id);
      assert.equal((await status(leaving, queued.body.id)).status, 'queued');
      // A two-way call to the disconnected child fails at once, as to an offline device.
      assert.equal(
        (await rpc(leaving, { method: 'now', timeoutMs: 60_000 })).body.status,
        'failed',
      );
      await client.endAsync();

      // A new connection that connects it again gets what waited.
      const again = await listeningGateway(p.url, gw.token);
      assert.equal(await connectChild(again.client, 'leaving'), 'acknowledged');
      assert.equal((await again.next()).data.id, queued.body.id);
      await again.client.endAsync();
    });

    it('a device that is not a gateway may not subscribe to v1/gateway/rpc; a gateway no wildcard of it', async () => {
      const plain = await p.device(t.key, 'not-a-gateway');
      const client = await mqttClient(p.url, { username: plain.token });
      assert.deepEqual(await subscribeGranted(client, { [GATEWAY_RPC]: { qos: 1 } }), [
        { topic: GATEWAY_RPC, qos: 128 },
      ]);
      await client.endAsync();
      const gw = await p.device(t.key, 'gw-wildcards', true);
      const gateway = await mqttClient(p.url, { username: gw.token });
      for (const filter of ['v1/gateway/+', 'v1/gateway/#', 'v1/gateway/rpc/#', '+/gateway/rpc'])
        assert.deepEqual(
          await subscribeGranted(gateway, { [filter]: { qos: 1 } }),
          [{ topic: filter, qos: 128 }],
          filter,
        );
      await gateway.endAsync();
    });
  });
}

/**
 * Two-way calls the api process makes before NATS has the ingest process's new delivery
 * subscription fail at once ("not connected"); the test calls again, at most this often.
 */
const SUBSCRIPTION_ATTEMPTS = 100;

describe('gateway RPC across processes on postgres and NATS', {
  skip: !scaleOutConfigured(),
}, () => {
  let api: TestApi;
  let ingest: Platform;
  let flags: Record<string, string>;
  let t: { id: string; key: string };

  before(async () => {
    flags = busFlags('nats');
    api = await TestApi.start('postgres', flags);
    ingest = await startPlatform({
      ...api.fixture.settings,
      adminToken: ADMIN_TOKEN,
      role: ['ingest'],
      mqtt: '127.0.0.1:0',
    });
    t = await api.tenant('gateway-rpc-scale-out');
  });
  after(async () => {
    await ingest.close();
    await api.close();
    await deleteNatsStream(flags.busPrefix!);
  });

  it('an api process reaches a child whose gateway is connected to an ingest process', async () => {
    const made = await api.call('POST', '/v1/devices', t.key, { name: 'gw', isGateway: true });
    const { client, next } = await listeningGateway(ingest.mqtt!.url, made.body.credentials.token);
    assert.equal(await connectChild(client, 'far'), 'acknowledged');
    const list = await api.call('GET', '/v1/devices?limit=10', t.key);
    const far = list.body.items.find((d: { name: string }) => d.name === 'far').id as string;
    const rpc = (body: object) =>
      api.call('POST', `/v1/devices/${far}/rpc`, t.key, { timeoutMs: 600_000, ...body });

    // A two-way call: it waits for the gateway's answer, taken by the ingest process.
    const delivered = next();
    let call: ReturnType<typeof rpc> | undefined;
    for (let attempt = 0; attempt < SUBSCRIPTION_ATTEMPTS && call === undefined; attempt++) {
      const started = rpc({ method: 'twoWay', params: { n: 1 } });
      const first = await Promise.race([started, delivered.then(() => undefined)]);
      if (first === undefined) call = started;
      else assert.equal(first.body.status, 'failed', JSON.stringify(first.body));
    }
    assert.ok(call !== undefined, "the ingest process took the api process's request");
    const request = await delivered;
    assert.deepEqual(request, {
      device: 'far',
      data: { id: request.data.id, method: 'twoWay', params: { n: 1 } },
    });
    const reply = JSON.stringify({ device: 'far', id: request.data.id, data: { n: 2 } });
    assert.equal(await publishOutcome(client, GATEWAY_RPC, reply), 'acknowledged');
    const answered = await call;
    assert.equal(answered.body.status, 'succeeded', JSON.stringify(answered.body));
    assert.deepEqual(answered.body.response, { n: 2 });

    // A persistent request goes out at once, through the process holding the gateway.
    const persistent = await rpc({ method: 'later', persistent: true });
    assert.match(persistent.body.status, WRITTEN_STATUS, JSON.stringify(persistent.body));
    assert.equal((await next()).data.id, persistent.body.id);

    // Disconnected, the child is served by no process: a new request stays queued.
    const gone = JSON.stringify({ device: 'far' });
    assert.equal(await publishOutcome(client, 'v1/gateway/disconnect', gone), 'acknowledged');
    const queued = await rpc({ method: 'queued', persistent: true });
    assert.equal(queued.body.status, 'queued', JSON.stringify(queued.body));
    await client.endAsync();
  });
});
