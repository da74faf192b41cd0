/**
 * The edge's local MQTT listener with MQTT.js devices, against a real platform for the
 * credentials it syncs down: durable PUBACK, credential checks from the cache (also offline),
 * topic isolation between devices, a full outbox, and tenants that never meet.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { ADMIN_TOKEN } from '../../server/test/support/api.ts';
import { CredentialCache, CredentialRefresh, DEFAULT_REFRESH } from '../src/credentials/index.ts';
import { Outbox } from '../src/index.ts';
import { EdgeMqttListener, groupCommit, type RefusalReason } from '../src/listener/index.ts';
import { type NodeFile, outboxPath } from '../src/node-file.ts';
import { enrollNode, PlatformLink } from './support/edge-harness.ts';

const TELEMETRY = 'v1/devices/me/telemetry';
const ATTRIBUTES = 'v1/devices/me/attributes';
const RPC = 'v1/devices/me/rpc/request/+';

/** An enrolled node of `slug` with its devices assigned to it, and their tokens. */
async function edgeTenant(link: PlatformLink, slug: string) {
  const dir = mkdtempSync(join(tmpdir(), `edge-listener-${slug}-`));
  const tenant = await link.call('POST', '/v1/platform/tenants', ADMIN_TOKEN, {
    slug,
    name: slug,
  });
  const key = (
    await link.call('POST', `/v1/platform/tenants/${tenant.body.id}/api-keys`, ADMIN_TOKEN, {
      name: 'k',
    })
  ).body.secret as string;
  const node = await enrollNode(link, key, dir, `${slug}-gw`);
  const devices: { id: string; token: string }[] = [];
  for (const name of ['a', 'b']) {
    const made = await link.call('POST', '/v1/devices', key, {
      name,
      type: 'meter',
      edgeNodeId: node.nodeId,
    });
    devices.push({ id: made.body.id, token: made.body.credentials.token });
  }
  return { dir, key, node, devices };
}

/** A listener on a free port over `dir`'s outbox and credential cache, recording refusals. */
async function listen(dir: string, node: NodeFile, maxMessages = 1000) {
  const outbox = new Outbox(outboxPath(dir), Buffer.from(node.outboxKey, 'base64'), {
    maxMessages,
  });
  const cache = new CredentialCache(join(dir, 'credentials.db'));
  const refusals: RefusalReason[] = [];
  const listener = new EdgeMqttListener({
    plain: { host: '127.0.0.1', port: 0 },
    credentials: cache,
    accept: groupCommit(outbox, (device, kind, payload) =>
      outbox.accept(device.deviceId, kind === 'telemetry' ? payload : { attributes: payload }),
    ),
    events: { refused: (reason) => refusals.push(reason) },
  });
  await listener.start();
  return {
    outbox,
    cache,
    listener,
    refusals,
    refresh: () => new CredentialRefresh(cache, node, DEFAULT_REFRESH).refreshOnce(),
    async close() {
      await listener.close();
      cache.close();
      outbox.close();
    },
  };
}

const connect = (url: string, username: string, extra: object = {}) =>
  connectAsync(url, { username, reconnectPeriod: 0, ...extra });

/** Messages in the outbox, oldest first, as (device, payload). */
function stored(outbox: Outbox): [string, unknown][] {
  const batch = outbox.nextBatch(10_000, () => `probe-${Math.random()}`.replace('.', ''));
  return (batch?.messages ?? []).map((m) => [m.deviceId, m.payload]);
}

const closed = (client: MqttClient) =>
  new Promise<void>((resolve) => client.once('close', () => resolve()));
const message = (client: MqttClient) =>
  new Promise<[string, Buffer]>((resolve) =>
    client.once('message', (topic, payload) => resolve([topic, payload])),
  );

describe('the edge MQTT listener', () => {
  let link: PlatformLink;
  let ada: Awaited<ReturnType<typeof edgeTenant>>;
  let edge: Awaited<ReturnType<typeof listen>>;

  before(async () => {
    link = await PlatformLink.start();
    ada = await edgeTenant(link, 'ada');
    edge = await listen(ada.dir, ada.node);
    assert.equal(await edge.refresh(), 2);
  });
  after(async () => {
    await edge.close();
    await link.close();
    rmSync(ada.dir, { recursive: true, force: true });
  });

  it('a QoS 1 message is in the outbox, under the device of the credential, when PUBACK comes', async () => {
    const [a] = ada.devices;
    const client = await connect(edge.listener.url, a!.token);
    await client.publishAsync(TELEMETRY, JSON.stringify({ ts: 1, values: { n: 1 } }), { qos: 1 });
    const fresh = new Outbox(outboxPath(ada.dir), Buffer.from(ada.node.outboxKey, 'base64'), {
      maxMessages: 1000,
    });
    assert.equal(fresh.size(), 1, 'on disk, seen through another connection');
    fresh.close();
    await client.endAsync();
    assert.deepEqual(stored(edge.outbox), [[a!.id, { ts: 1, values: { n: 1 } }]]);
    edge.outbox.confirm(edge.outbox.nextBatch(1, () => 'unused')!.batchId);
  });

  it('MQTT basic credentials are checked against the synced scrypt hash and client id', async () => {
    const [, b] = ada.devices;
    const basic = await link.call('POST', `/v1/devices/${b!.id}/credentials`, ada.key, {
      type: 'mqtt_basic',
      username: 'bee',
      password: 'a long enough secret',
      clientId: 'bee-1',
    });
    assert.equal(basic.status, 201);
    await edge.refresh();
    const good = await connect(edge.listener.url, 'bee', {
      password: 'a long enough secret',
      clientId: 'bee-1',
    });
    await good.endAsync();
    for (const [password, clientId] of [
      ['a wrong secret here', 'bee-1'],
      ['a long enough secret', 'bee-2'],
    ]) {
      const error = await connect(edge.listener.url, 'bee', { password, clientId }).then(
        () => assert.fail('must be refused'),
        (e: Error & { code?: number }) => e,
      );
      assert.equal(error.code, 4, 'CONNACK: bad user name or password');
    }
    const unknown = await connect(edge.listener.url, 'no-such-token').catch((e) => e);
    assert.equal(unknown.code, 4);
    const v5 = await connect(edge.listener.url, b!.token, { protocolVersion: 5 }).catch((e) => e);
    assert.equal(v5.code, 0x84, 'MQTT 5 is refused as the platform refuses it');
    assert.ok(edge.refusals.filter((r) => r === 'bad_credentials').length >= 3);
  });

  it("a device publishes and subscribes only on its own topics, and never sees another's", async () => {
    const [a, b] = ada.devices;
    const alice = await connect(edge.listener.url, a!.token);
    const bob = await connect(edge.listener.url, b!.token);
    for (const filter of ['#', 'v1/devices/+/attributes', '$SYS/#', 'v1/devices/me/telemetry']) {
      const refused = await bob.subscribeAsync(filter, { qos: 1 }).catch((e) => e);
      assert.deepEqual(refused.packet?.granted, [128], `${filter} is refused`);
    }
    const grants = await bob.subscribeAsync([ATTRIBUTES, RPC], { qos: 1 });
    assert.deepEqual(
      grants.map((g) => g.qos),
      [1, 1],
    );
    const seen: string[] = [];
    bob.on('message', (topic) => seen.push(topic));
    await alice.subscribeAsync(RPC, { qos: 1 });
    await alice.publishAsync(ATTRIBUTES, JSON.stringify({ fw: '1.0' }), { qos: 1 });
    await alice.publishAsync(TELEMETRY, JSON.stringify({ t: 1 }), { qos: 1 });
    // The node sends an RPC to Alice only; Bob, subscribed to the same filter, gets nothing.
    const got = message(alice);
    assert.equal(await edge.listener.send(a!.id, 'v1/devices/me/rpc/request/7', { m: 1 }), 1);
    const [topic, payload] = await got;
    assert.equal(topic, 'v1/devices/me/rpc/request/7');
    assert.deepEqual(JSON.parse(payload.toString()), { m: 1 });
    // Bob's own round trip proves his subscriptions are live and Alice's messages passed him by.
    const own = message(bob);
    await edge.listener.send(b!.id, 'v1/devices/me/rpc/request/8', { m: 2 });
    await own;
    assert.deepEqual(seen, ['v1/devices/me/rpc/request/8']);
    const gone = closed(alice);
    alice.publish(`v1/devices/${b!.id}/telemetry`, JSON.stringify({ forged: 1 }), { qos: 1 });
    await gone;
    assert.ok(edge.refusals.includes('topic_not_allowed'));
    assert.ok(edge.refusals.includes('subscription_not_allowed'));
    assert.deepEqual(stored(edge.outbox), [
      [a!.id, { attributes: { fw: '1.0' } }],
      [a!.id, { t: 1 }],
    ]);
    await bob.endAsync();
  });

  it('a packet over the bound is refused before it is buffered, as on the platform', async () => {
    const [a] = ada.devices;
    const client = await connect(edge.listener.url, a!.token);
    const gone = closed(client);
    client.publish(TELEMETRY, JSON.stringify({ blob: 'x'.repeat(70_000) }), { qos: 1 });
    await gone;
    assert.ok(edge.refusals.includes('packet_too_large'));
    assert.deepEqual(
      stored(edge.outbox).filter(([, p]) => JSON.stringify(p).includes('blob')),
      [],
    );
  });

  it('bytes that are no MQTT packet close the connection and are counted', async () => {
    const { port } = new URL(edge.listener.url);
    const socket = createConnection({ host: '127.0.0.1', port: Number(port) });
    const gone = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', () => undefined);
    socket.write('GET / HTTP/1.1\r\n\r\n');
    await gone;
    assert.ok(edge.refusals.includes('malformed_packet'));
  });

  it('a payload that is not JSON of the right shape is refused: no PUBACK, connection closed', async () => {
    const [a] = ada.devices;
    for (const body of ['{not json', '42', '[]', '[1]']) {
      const client = await connect(edge.listener.url, a!.token);
      const gone = closed(client);
      client.publish(TELEMETRY, body, { qos: 1 });
      await gone;
    }
    assert.equal(edge.refusals.filter((r) => r === 'invalid_payload').length, 4);
  });
});

describe('the edge MQTT listener when the outbox is full, offline, and across tenants', () => {
  let link: PlatformLink;

  before(async () => {
    link = await PlatformLink.start();
  });
  after(() => link.close());

  it('a full outbox refuses: no PUBACK, the connection closes, the refusal counts, nothing is lost', async () => {
    const ada = await edgeTenant(link, 'full');
    const edge = await listen(ada.dir, ada.node, 2);
    await edge.refresh();
    const client = await connect(edge.listener.url, ada.devices[0]!.token);
    await client.publishAsync(TELEMETRY, '{"n":1}', { qos: 1 });
    await client.publishAsync(TELEMETRY, '{"n":2}', { qos: 1 });
    const gone = closed(client);
    let acked = false;
    client.publish(TELEMETRY, '{"n":3}', { qos: 1 }, () => {
      acked = true;
    });
    await gone;
    assert.equal(acked, false, 'no PUBACK for a message the outbox could not take');
    assert.deepEqual(edge.refusals, ['outbox_full']);
    assert.equal(edge.outbox.size(), 2);
    client.end(true);
    await edge.close();
    rmSync(ada.dir, { recursive: true, force: true });
  });

  it('messages published together share a commit; those beyond the room are refused, in order', async () => {
    const ada = await edgeTenant(link, 'group');
    const edge = await listen(ada.dir, ada.node, 5);
    await edge.refresh();
    const client = await connect(edge.listener.url, ada.devices[0]!.token);
    const gone = closed(client);
    const acked: number[] = [];
    for (let n = 0; n < 8; n++)
      client.publish(TELEMETRY, JSON.stringify({ n }), { qos: 1 }, (error) => {
        if (error === undefined || error === null) acked.push(n);
      });
    await gone;
    assert.deepEqual(
      stored(edge.outbox).map(([, payload]) => payload),
      [0, 1, 2, 3, 4].map((n) => ({ n })),
    );
    assert.ok(
      acked.every((n) => n < 5),
      'nothing beyond the room was acknowledged',
    );
    assert.ok(edge.refusals.length > 0 && edge.refusals.every((r) => r === 'outbox_full'));
    client.end(true);
    await edge.close();
    rmSync(ada.dir, { recursive: true, force: true });
  });

  it('with the platform down, devices authenticate from the cache; a revoked token stops at the next refresh', async () => {
    const ada = await edgeTenant(link, 'offline');
    const first = await listen(ada.dir, ada.node);
    await first.refresh();
    await first.close();
    await link.stopPlatform();
    const edge = await listen(ada.dir, ada.node);
    await assert.rejects(edge.refresh(), 'the platform is unreachable');
    const client = await connect(edge.listener.url, ada.devices[0]!.token);
    await client.publishAsync(TELEMETRY, '{"n":1}', { qos: 1 });
    await client.endAsync();
    await link.restartPlatform();
    const [a] = ada.devices;
    const credentials = await link.call('GET', `/v1/devices/${a!.id}/credentials`, ada.key);
    const id = credentials.body[0].id;
    await link.call('DELETE', `/v1/devices/${a!.id}/credentials/${id}`, ada.key);
    assert.equal(await edge.refresh(), 2);
    const refused = await connect(edge.listener.url, a!.token).catch((e) => e);
    assert.equal(refused.code, 4);
    await edge.close();
    rmSync(ada.dir, { recursive: true, force: true });
  });

  it('a refresh closes the connections whose credential the platform no longer lists for the node', async () => {
    const ada = await edgeTenant(link, 'revoked');
    const edge = await listen(ada.dir, ada.node);
    await edge.refresh();
    const [a, b] = ada.devices;
    const clientA = await connect(edge.listener.url, a!.token);
    const clientB = await connect(edge.listener.url, b!.token);
    await clientA.publishAsync(TELEMETRY, '{"n":1}', { qos: 1 });
    const aClosed = closed(clientA);
    // A moved to no node: the node no longer holds its credential.
    await link.call('PATCH', `/v1/devices/${a!.id}`, ada.key, { edgeNodeId: null });
    assert.equal(await edge.refresh(), 1);
    await aClosed;
    const refused = await connect(edge.listener.url, a!.token).catch((e) => e);
    assert.equal(refused.code, 4, 'and it cannot connect again');
    await clientB.publishAsync(TELEMETRY, '{"n":2}', { qos: 1 });
    assert.deepEqual(stored(edge.outbox), [
      [a!.id, { n: 1 }],
      [b!.id, { n: 2 }],
    ]);
    clientA.end(true);
    await clientB.endAsync();
    await edge.close();
    rmSync(ada.dir, { recursive: true, force: true });
  });

  it('a refresh follows the platform pages: every device of a node with hundreds connects', async () => {
    const many = await edgeTenant(link, 'paged');
    const made = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        link.call('POST', '/v1/devices', many.key, {
          name: `m${i}`,
          edgeNodeId: many.node.nodeId,
        }),
      ),
    );
    const edge = await listen(many.dir, many.node);
    assert.equal(await edge.refresh(), 152, 'more than one page of the platform default');
    const last = made
      .map((m) => m.body)
      .sort((x, y) => (x.id < y.id ? -1 : 1))
      .at(-1);
    const client = await connect(edge.listener.url, last.credentials.token);
    await client.endAsync();
    await edge.close();
    rmSync(many.dir, { recursive: true, force: true });
  });

  it("a node of tenant B never receives tenant A's device credentials", async () => {
    const ada = await edgeTenant(link, 'tenant-a');
    const bob = await edgeTenant(link, 'tenant-b');
    const edge = await listen(bob.dir, bob.node);
    assert.equal(await edge.refresh(), 2, "B's own two devices");
    for (const device of ada.devices) {
      const error = await connect(edge.listener.url, device.token).catch((e) => e);
      assert.equal(error.code, 4, "A's device cannot connect to B's node");
    }
    const own = await connect(edge.listener.url, bob.devices[0]!.token);
    await own.endAsync();
    await edge.close();
    for (const dir of [ada.dir, bob.dir]) rmSync(dir, { recursive: true, force: true });
  });
});
