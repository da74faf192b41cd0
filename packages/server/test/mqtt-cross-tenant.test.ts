/**
 * Cross-tenant MQTT: a device of tenant B tries every topic trick against tenant A's device
 * (wildcards, `$share`, `$SYS`, other devices' and the server's topics, long and odd topics,
 * wills, client-id collisions). Each forbidden topic and filter is its own case, so removing
 * any topic rule from the listener fails this suite. A is subscribed to everything it may
 * subscribe to, and must receive only what the server addressed to it. The suite runs over
 * TCP and over WebSocket (the same broker behind both). Then, on the real platform (SQLite
 * and PostgreSQL), tenant B's gateway tries to answer tenant A's children's RPC requests and
 * to read or receive their attributes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MqttClient } from 'mqtt';
import { backendNames } from './support/backends.ts';
import { type FakeListener, identity, startFakeListener } from './support/mqtt-fakes.ts';
import {
  cliAddress,
  closed,
  mqttClient,
  publishOutcome,
  runCli,
  subscribeGranted,
} from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';
import { WRITTEN_STATUS } from './support/rpc-written.ts';

const ALLOWED_FILTERS = [
  'v1/devices/me/attributes',
  'v1/devices/me/attributes/response/+',
  'v1/devices/me/rpc/request/+',
];

/** Topics no device may publish to (B is not a gateway). */
const FORBIDDEN_PUBLISH = [
  'v1/devices/a/telemetry',
  'v1/devices/tenant-a/a/telemetry',
  'tenant-a/v1/devices/me/telemetry',
  'v1/devices/me/rpc/request/1',
  'v1/devices/me/attributes/response/1',
  'v1/devices/me/attributes/request/abc',
  'v1/devices/me/attributes/request/',
  'v1/devices/me/rpc/response/1/extra',
  'v1/devices/me/rpc/response/12345678901',
  'v1/devices/me/telemetry/',
  '/v1/devices/me/telemetry',
  'v1/devices/me//telemetry',
  'V1/devices/me/telemetry',
  'v1/devices/me/telemetrу', // Cyrillic у
  'v1/devices/me/telemetry ',
  'v1/devices/me/telemetry\u0000',
  'v1/gateway/telemetry',
  'v1/gateway/connect',
  'v1/gateway/rpc',
  'v1/gateway/attributes/request',
  'v1/gateway/attributes/response',
  '$SYS/broker/clients/connected',
  '$share/g/v1/devices/me/telemetry',
  '$palisade/accepted',
  'v1',
  'x'.repeat(60_000),
  `${'a/'.repeat(150)}telemetry`,
];

/** Filters no device may subscribe to. */
const FORBIDDEN_SUBSCRIBE = [
  '#',
  '+',
  '+/#',
  '/#',
  'v1/#',
  'v1/devices/#',
  'v1/devices/+/telemetry',
  'v1/devices/+/rpc/request/+',
  'v1/devices/me/#',
  'v1/devices/me/+',
  'v1/devices/me/telemetry',
  'v1/devices/me/rpc/request/#',
  'v1/devices/me/rpc/request/1',
  'v1/devices/me/rpc/response/+',
  'v1/devices/me/attributes/request/+',
  'v1/devices/me/attributes/response/#',
  'v1/devices/a/rpc/request/+',
  'v1/gateway/#',
  'v1/gateway/rpc',
  'v1/gateway/attributes',
  'v1/gateway/attributes/response',
  'v1/gateway/attributes/+',
  'v1/gateway/+',
  '$SYS/#',
  '$SYS/+/heartbeat',
  '$share/g/#',
  '$share/g/v1/devices/me/rpc/request/+',
  '$share/g/v1/devices/me/attributes',
  '$palisade/#',
  '$queue/v1/devices/me/rpc/request/+',
  `${'+/'.repeat(99)}#`,
  `v1/devices/me/rpc/request/${'x'.repeat(2000)}/+`,
];

for (const transport of ['tcp', 'websocket'] as const) {
  describe(`cross-tenant MQTT over ${transport}: tenant B reaches nothing of tenant A`, () => {
    let mqtt: FakeListener;
    let url: string;
    let victim: MqttClient;
    const received: string[] = [];

    before(async () => {
      mqtt = await startFakeListener({}, { host: '127.0.0.1', port: 0 });
      url = transport === 'tcp' ? mqtt.url : String(mqtt.listener.wsUrl);
      mqtt.auth.tokens.set('tok-a', identity('tenant-a', 'a'));
      mqtt.auth.tokens.set('tok-b', identity('tenant-b', 'b'));
      mqtt.auth.tokens.set('tok-b2', identity('tenant-b', 'b2'));
      victim = await mqttClient(url, { clientId: 'shared-id', username: 'tok-a' });
      const granted = await subscribeGranted(
        victim,
        Object.fromEntries(ALLOWED_FILTERS.map((f) => [f, { qos: 1 as const }])),
      );
      assert.deepEqual(
        granted.map((g) => g.qos),
        [1, 1, 1],
      );
      victim.on('message', (topic, payload) => received.push(`${topic} ${payload}`));
    });
    after(async () => {
      await victim.endAsync();
      await mqtt.close();
    });

    /** Proves A's inbox is exactly what the server sent it: a sentinel RPC marks the end. */
    async function victimInbox(): Promise<string[]> {
      const sentinel = `sentinel-${received.length}`;
      const arrived = new Promise<void>((resolve) =>
        victim.on('message', (_t, p) => String(p).includes(sentinel) && resolve()),
      );
      await mqtt.rpc.send('tenant-a', 'a', '999', { method: sentinel });
      await arrived;
      const inbox = received.filter((m) => !m.includes('sentinel-'));
      received.length = 0;
      return inbox;
    }

    for (const topic of FORBIDDEN_PUBLISH) {
      it(`refuses a PUBLISH to ${JSON.stringify(topic.length > 60 ? `${topic.slice(0, 40)}… (${topic.length} chars)` : topic)}`, async () => {
        const client = await mqttClient(url, { username: 'tok-b' });
        assert.equal(await publishOutcome(client, topic, JSON.stringify({ stolen: 1 })), 'refused');
        assert.equal(client.connected, false, 'the listener closes the connection');
      });
    }

    for (const filter of FORBIDDEN_SUBSCRIBE) {
      it(`refuses a SUBSCRIBE to ${JSON.stringify(filter.length > 60 ? `${filter.slice(0, 40)}… (${filter.length} chars)` : filter)}`, async () => {
        const client = await mqttClient(url, { username: 'tok-b' });
        const granted = await subscribeGranted(client, { [filter]: { qos: 1 } });
        assert.deepEqual(granted, [{ topic: filter, qos: 128 }]);
        await client.endAsync();
      });
    }

    // mosquitto_sub speaks MQTT over TCP only; over WebSocket, MQTT.js's cases above stand.
    if (transport === 'tcp')
      it('mosquitto_sub is denied #, $SYS/# and $share', async () => {
        for (const filter of ['#', '$SYS/#', '$share/g/#']) {
          const result = await runCli('mosquitto_sub', [
            ...cliAddress(mqtt.url),
            '-u',
            'tok-b',
            '-t',
            filter,
            '-C',
            '1',
          ]);
          assert.match(result.stderr, /All subscription requests were denied/, filter);
          assert.equal(result.stdout, '', filter);
        }
      });

    it('nothing B published or attempted reached A, and nothing was stored for A', async () => {
      const b = await mqttClient(url, { username: 'tok-b' });
      await subscribeGranted(
        b,
        Object.fromEntries(ALLOWED_FILTERS.map((f) => [f, { qos: 1 as const }])),
      );
      await b.publishAsync('v1/devices/me/telemetry', JSON.stringify({ t: 1 }), { qos: 1 });
      await b.publishAsync('v1/devices/me/attributes', JSON.stringify({ t: 1 }), { qos: 1 });
      await b.publishAsync('v1/devices/me/rpc/response/1', JSON.stringify({ t: 1 }), { qos: 1 });
      await b.publishAsync('v1/devices/me/attributes/request/1', '{}', { qos: 1 });
      await b.endAsync();
      assert.deepEqual(await victimInbox(), []);
      const tenants = new Set(mqtt.ingest.messages().map((m) => m.tenant));
      assert.deepEqual([...tenants], ['tenant-b']);
      assert.ok(mqtt.ingest.messages().every((m) => m.device === 'b'));
    });

    it("the server's messages to A are never delivered to B, even on the same filters", async () => {
      const b = await mqttClient(url, { username: 'tok-b' });
      const bInbox: string[] = [];
      b.on('message', (topic) => bInbox.push(topic));
      await subscribeGranted(
        b,
        Object.fromEntries(ALLOWED_FILTERS.map((f) => [f, { qos: 1 as const }])),
      );
      await mqtt.rpc.send('tenant-a', 'a', '5', { method: 'forA' });
      await mqtt.listener.pushAttributes(identity('tenant-a', 'a'), { secret: 'A' });
      const bSentinel = new Promise<void>((resolve) => b.on('message', () => resolve()));
      await mqtt.rpc.send('tenant-b', 'b', '1', { method: 'forB' });
      await bSentinel;
      assert.deepEqual(bInbox, ['v1/devices/me/rpc/request/1']);
      await b.endAsync();
      assert.deepEqual(await victimInbox(), [
        'v1/devices/me/rpc/request/5 {"method":"forA"}',
        'v1/devices/me/attributes {"secret":"A"}',
      ]);
    });

    it("client-id collisions never take over another tenant's or device's session", async () => {
      const sameId = await mqttClient(url, { clientId: 'shared-id', username: 'tok-b' });
      const internalId = await mqttClient(url, {
        clientId: 'tenant-a/a/shared-id',
        username: 'tok-b2',
      });
      await sameId.publishAsync('v1/devices/me/telemetry', JSON.stringify({ same: 1 }), { qos: 1 });
      await internalId.publishAsync('v1/devices/me/telemetry', JSON.stringify({ internal: 1 }), {
        qos: 1,
      });
      assert.equal(victim.connected, true);
      assert.equal(sameId.connected, true);
      assert.deepEqual(await victimInbox(), [], 'A is still connected and subscribed');
      await Promise.all([sameId.endAsync(), internalId.endAsync()]);
    });

    it("B's last will cannot be aimed at A's topics", async () => {
      const b = await mqttClient(url, {
        username: 'tok-b',
        will: {
          topic: 'v1/devices/me/rpc/request/1',
          payload: Buffer.from('{"will":1}'),
          qos: 1,
          retain: true,
        },
      });
      const gone = closed(b);
      b.stream.destroy();
      await gone;
      assert.deepEqual(await victimInbox(), []);
    });

    it('a retained publish is never replayed to a later subscriber', async () => {
      const b = await mqttClient(url, { username: 'tok-b' });
      await b.publishAsync('v1/devices/me/attributes', JSON.stringify({ r: 1 }), {
        qos: 1,
        retain: true,
      });
      await b.endAsync();
      const a2 = await mqttClient(url, { username: 'tok-a' });
      const inbox: string[] = [];
      a2.on('message', (topic) => inbox.push(topic));
      await subscribeGranted(a2, { 'v1/devices/me/attributes': { qos: 1 } });
      const sentinel = new Promise<void>((resolve) => a2.on('message', () => resolve()));
      await mqtt.listener.pushAttributes(identity('tenant-a', 'a'), { sentinel: true });
      await sentinel;
      assert.deepEqual(inbox, ['v1/devices/me/attributes']);
      await a2.endAsync();
      received.length = 0;
    });
  });
}

for (const backend of backendNames()) {
  describe(`cross-tenant gateways (${backend}): B's gateway reaches none of A's children`, () => {
    let p: MqttPlatform;
    let a: { id: string; key: string };
    let b: { id: string; key: string };

    before(async () => {
      p = await startMqttPlatform(backend);
      a = await p.tenant('gw-rpc-a');
      b = await p.tenant('gw-rpc-b');
    });
    after(() => p.close());

    /** A gateway of the tenant listening on v1/gateway/rpc with child `pump` connected. */
    const gatewayWithPump = async (tenant: { key: string }) => {
      const gw = await p.device(tenant.key, 'gateway', true);
      const client = await mqttClient(p.url, { username: gw.token });
      const inbox: Array<{ device: string; data: { id: string } }> = [];
      client.on('message', (_topic, payload) => inbox.push(JSON.parse(String(payload))));
      await subscribeGranted(client, { 'v1/gateway/rpc': { qos: 1 } });
      const connect = JSON.stringify({ device: 'pump' });
      assert.equal(await publishOutcome(client, 'v1/gateway/connect', connect), 'acknowledged');
      const pump = (await p.deviceId(tenant.key, 'pump'))!;
      return { gw, client, inbox, pump };
    };
    const persistent = async (tenant: { key: string }, deviceId: string) => {
      const made = await p.call('POST', `/v1/devices/${deviceId}/rpc`, tenant.key, {
        method: 'secret',
        persistent: true,
        timeoutMs: 600_000,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return made.body as { id: string; status: string };
    };

    it("B's gateway never gets A's child's requests and cannot answer them by name or id", async () => {
      const inA = await gatewayWithPump(a);
      const inB = await gatewayWithPump(b);
      const plainA = await p.device(a.key, 'a-only');
      const request = await persistent(a, inA.pump);
      assert.match(request.status, WRITTEN_STATUS);
      const forB = await persistent(b, inB.pump);
      assert.match(forB.status, WRITTEN_STATUS);

      const forged = [
        { device: 'pump', id: request.id, data: 'forged' },
        { device: 'a-only', id: request.id, data: 'forged' },
        { device: inA.pump, id: request.id, data: 'forged' },
        { device: 'gateway', id: request.id, data: 'forged' },
      ];
      for (const body of forged) {
        const client = await mqttClient(p.url, { username: inB.gw.token });
        const outcome = await publishOutcome(client, 'v1/gateway/rpc', JSON.stringify(body));
        assert.equal(outcome, 'refused', JSON.stringify(body));
      }
      const read = await p.call('GET', `/v1/devices/${inA.pump}/rpc/${request.id}`, a.key);
      assert.match(read.body.status, WRITTEN_STATUS);
      assert.equal(read.body.response, null);
      const bDevices = await p.call('GET', '/v1/devices?limit=100', b.key);
      assert.deepEqual(
        bDevices.body.items.map((d: { name: string }) => d.name).sort(),
        ['gateway', 'pump'],
        "no device of B was made from A's names",
      );
      assert.equal(
        (await p.call('GET', `/v1/devices/${plainA.id}/rpc/${request.id}`, b.key)).status,
        404,
      );

      // Each gateway's answer to its own request is taken; the PUBACK comes after any request
      // the server wrote to that connection, so each inbox is complete by then.
      for (const [inT, id] of [
        [inA, request.id],
        [inB, forB.id],
      ] as const) {
        const answer = JSON.stringify({ device: 'pump', id, data: 'ok' });
        assert.equal(await publishOutcome(inT.client, 'v1/gateway/rpc', answer), 'acknowledged');
      }
      const done = await p.call('GET', `/v1/devices/${inA.pump}/rpc/${request.id}`, a.key);
      assert.equal(done.body.status, 'succeeded');
      assert.equal(done.body.response, 'ok');
      assert.deepEqual(
        inA.inbox.map((m) => m.data.id),
        [request.id],
      );
      assert.deepEqual(
        inB.inbox.map((m) => m.data.id),
        [forB.id],
        "B's gateway got its own tenant's request only",
      );
      await Promise.all([inA.client.endAsync(), inB.client.endAsync()]);
    });

    /**
     * A gateway of the tenant listening for its children's attributes, its child `valve`
     * connected with a client attribute and a shared one that name the tenant.
     */
    const gatewayWithValve = async (tenant: { key: string }, owner: string) => {
      const gw = await p.device(tenant.key, 'attr-gateway', true);
      const client = await mqttClient(p.url, { username: gw.token });
      const inbox: Array<[string, unknown]> = [];
      client.on('message', (topic, payload) => inbox.push([topic, JSON.parse(String(payload))]));
      await subscribeGranted(client, {
        'v1/gateway/attributes': { qos: 1 },
        'v1/gateway/attributes/response': { qos: 1 },
      });
      const reported = JSON.stringify({ valve: { owner } });
      assert.equal(await publishOutcome(client, 'v1/gateway/attributes', reported), 'acknowledged');
      const valve = (await p.deviceId(tenant.key, 'valve'))!;
      const shared = { attributes: { secret: owner } };
      assert.equal((await p.call('PATCH', `/v1/devices/${valve}`, tenant.key, shared)).status, 200);
      // The change is pushed to the gateway that connected the valve, its own tenant's only.
      while (inbox.length === 0) await sleep(10);
      assert.deepEqual(inbox.splice(0), [
        ['v1/gateway/attributes', { device: 'valve', data: { secret: owner } }],
      ]);
      const authority = p.platform.devices.authority;
      const identity = (await authority.findGatewayChild(
        (await authority.byAccessToken(gw.token))!,
        'valve',
      ))!;
      return { gw, client, inbox, valve, identity };
    };
    /** Asks for the valve's attributes; acknowledged once the answer (and all before it) is written. */
    const askValve = async (client: MqttClient, id: number) => {
      const request = JSON.stringify({ id, device: 'valve', client: false, keys: ['secret'] });
      assert.equal(
        await publishOutcome(client, 'v1/gateway/attributes/request', request),
        'acknowledged',
      );
    };

    it("B's gateway neither reads nor receives A's children's attributes, by any name", async () => {
      const inA = await gatewayWithValve(a, 'A');
      const inB = await gatewayWithValve(b, 'B');
      const plainA = await p.device(a.key, 'a-attr-only');
      await p.call('PATCH', `/v1/devices/${plainA.id}`, a.key, { attributes: { secret: 'A' } });

      for (const device of [inA.valve, plainA.id, 'a-attr-only', inA.gw.id, `${a.id}/valve`]) {
        const client = await mqttClient(p.url, { username: inB.gw.token });
        const request = JSON.stringify({ id: 1, device, client: false, key: 'secret' });
        const outcome = await publishOutcome(client, 'v1/gateway/attributes/request', request);
        assert.equal(outcome, 'refused', device);
      }
      // The same name in B is B's own child: its answer is B's.
      await askValve(inB.client, 2);

      // A's valve's update reaches A's gateway only, though B's gateway has a valve too.
      assert.equal(await p.platform.mqtt!.pushAttributes(inA.identity, { secret: 'A2' }), 1);
      await askValve(inA.client, 3);
      await askValve(inB.client, 4);
      assert.deepEqual(inA.inbox, [
        ['v1/gateway/attributes', { device: 'valve', data: { secret: 'A2' } }],
        ['v1/gateway/attributes/response', { id: 3, device: 'valve', values: { secret: 'A' } }],
      ]);
      assert.deepEqual(inB.inbox, [
        ['v1/gateway/attributes/response', { id: 2, device: 'valve', values: { secret: 'B' } }],
        ['v1/gateway/attributes/response', { id: 4, device: 'valve', values: { secret: 'B' } }],
      ]);
      const bDevices = await p.call('GET', '/v1/devices?limit=100', b.key);
      const names = bDevices.body.items.map((d: { name: string }) => d.name);
      assert.ok(!names.includes('a-attr-only'), "no device of B was made from A's names");
      await Promise.all([inA.client.endAsync(), inB.client.endAsync()]);
    });
  });
}
