/**
 * The MQTT listener with real peers (mosquitto_pub/mosquitto_sub and MQTT.js) against small
 * real implementations of the device contract: authentication, ThingsBoard topics, durable
 * QoS 1 acknowledgement, attribute requests, RPC, gateways and MQTT 5 refusal.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connectAsync } from 'mqtt';
import { type FakeListener, identity, startFakeListener } from './support/mqtt-fakes.ts';
import {
  cliAddress,
  closed,
  connectPacket,
  mqttClient,
  PEER_TIMEOUT_MS,
  rawSocket,
  remainingLength,
  runCli,
  startSub,
  subscribeGranted,
} from './support/mqtt-peers.ts';

const TELEMETRY = 'v1/devices/me/telemetry';

describe('MQTT listener with real peers', () => {
  let mqtt: FakeListener;
  before(async () => {
    mqtt = await startFakeListener();
    mqtt.auth.tokens.set('tok-a1', identity('tenant-a', 'a1'));
    mqtt.auth.tokens.set('tok-a2', identity('tenant-a', 'a2'));
    mqtt.auth.tokens.set('tok-gw', identity('tenant-a', 'gw', true));
    mqtt.auth.basic.set('cid-b1\nuser-b1\npass-b1', identity('tenant-b', 'b1'));
  });
  after(() => mqtt.close());

  const stored = (device: string) => mqtt.ingest.messages().filter((m) => m.device === device);

  it('mosquitto_pub with an access token: every ThingsBoard telemetry shape is stored, then acknowledged', async () => {
    const shapes = [
      { temperature: 21.5, on: true, label: 'x' },
      { ts: 1_700_000_000_000, values: { temperature: 22 } },
      [{ a: 1 }, { b: 2 }],
      [{ ts: 1_700_000_000_001, values: { c: 3 } }],
    ];
    for (const shape of shapes) {
      const result = await runCli('mosquitto_pub', [
        ...cliAddress(mqtt.url),
        '-u',
        'tok-a1',
        '-q',
        '1',
        '-t',
        TELEMETRY,
        '-m',
        JSON.stringify(shape),
      ]);
      assert.equal(result.code, 0, result.stderr);
    }
    assert.deepEqual(
      stored('a1').map((m) => [m.tenant, m.kind, m.payload]),
      shapes.map((shape) => ['tenant-a', 'telemetry', shape]),
    );
  });

  it('MQTT.js with client id, user name and password publishes attributes', async () => {
    const client = await mqttClient(mqtt.url, {
      clientId: 'cid-b1',
      username: 'user-b1',
      password: 'pass-b1',
    });
    await client.publishAsync('v1/devices/me/attributes', JSON.stringify({ fw: '2.1' }), {
      qos: 1,
    });
    await client.endAsync();
    assert.deepEqual(stored('b1'), [
      { tenant: 'tenant-b', device: 'b1', kind: 'attributes', payload: { fw: '2.1' } },
    ]);
  });

  it('PUBACK comes only after ingestion stored the message', async () => {
    const client = await mqttClient(mqtt.url, { username: 'tok-a2' });
    const other = await mqttClient(mqtt.url, { username: 'tok-a1' });
    mqtt.ingest.hold('a2');
    const started = new Promise<void>((resolve) => {
      mqtt.ingest.onStart = (device) => device.deviceId === 'a2' && resolve();
    });
    let acked = false;
    const publish = client
      .publishAsync(TELEMETRY, JSON.stringify({ held: 1 }), { qos: 1 })
      .then(() => {
        acked = true;
        return stored('a2').length;
      });
    await started;
    // A full round trip through the listener on another connection while a2's is parked.
    await other.publishAsync(TELEMETRY, JSON.stringify({ round: 'trip' }), { qos: 1 });
    assert.equal(acked, false, 'no PUBACK while the ingest is pending');
    assert.equal(stored('a2').length, 0);
    mqtt.ingest.release('a2');
    assert.equal(await publish, 1, 'stored when the PUBACK arrived');
    mqtt.ingest.onStart = undefined;
    await Promise.all([client.endAsync(), other.endAsync()]);
  });

  it('refuses unknown or missing credentials with CONNACK 4', async () => {
    const bad = await runCli('mosquitto_pub', [
      ...cliAddress(mqtt.url),
      '-u',
      'no-such-token',
      '-t',
      TELEMETRY,
      '-m',
      '{}',
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /not authori[sz]ed|bad user name or password/i);
    await assert.rejects(mqttClient(mqtt.url), /Bad username or password/i);
    await assert.rejects(
      mqttClient(mqtt.url, { clientId: 'cid-b1', username: 'user-b1', password: 'wrong' }),
      /Bad username or password/i,
    );
  });

  it('grants the three ThingsBoard subscriptions and refuses others with 0x80', async () => {
    const client = await mqttClient(mqtt.url, { username: 'tok-a1' });
    const granted = await subscribeGranted(client, {
      'v1/devices/me/attributes': { qos: 1 },
      'v1/devices/me/attributes/response/+': { qos: 1 },
      'v1/devices/me/rpc/request/+': { qos: 1 },
      'v1/devices/me/telemetry': { qos: 1 },
      '#': { qos: 0 },
    });
    assert.deepEqual(
      granted.map((g) => [g.topic, g.qos]),
      [
        ['v1/devices/me/attributes', 1],
        ['v1/devices/me/attributes/response/+', 1],
        ['v1/devices/me/rpc/request/+', 1],
        ['v1/devices/me/telemetry', 128],
        ['#', 128],
      ],
    );
    await client.endAsync();
  });

  it('answers an attribute request on attributes/response/{id}', async () => {
    const client = await mqttClient(mqtt.url, { username: 'tok-a1' });
    await client.subscribeAsync('v1/devices/me/attributes/response/+', { qos: 1 });
    const answer = new Promise<[string, unknown]>((resolve) =>
      client.once('message', (topic, payload) => resolve([topic, JSON.parse(String(payload))])),
    );
    await client.publishAsync(
      'v1/devices/me/attributes/request/42',
      JSON.stringify({ clientKeys: 'a,b', sharedKeys: 'fw' }),
      { qos: 1 },
    );
    assert.deepEqual(await answer, [
      'v1/devices/me/attributes/response/42',
      { client: { id: 'a1', keys: ['a', 'b'] }, shared: { fw: '1.0', keys: ['fw'] } },
    ]);
    await client.endAsync();
  });

  it('delivers server-side RPC to mosquitto_sub and takes the response from MQTT.js', async () => {
    const sub = await startSub(mqtt.url, [
      '-u',
      'tok-a2',
      '-q',
      '1',
      '-t',
      'v1/devices/me/rpc/request/+',
      '-C',
      '1',
    ]);
    await mqtt.rpc.send('tenant-a', 'a2', '7', { method: 'setGpio', params: { pin: 4 } });
    const result = await sub.finished();
    assert.deepEqual(sub.messages, [
      'v1/devices/me/rpc/request/7 {"method":"setGpio","params":{"pin":4}}',
    ]);
    assert.equal(result.code, 0);
    const client = await mqttClient(mqtt.url, { username: 'tok-a2' });
    await client.publishAsync('v1/devices/me/rpc/response/7', JSON.stringify({ ok: true }), {
      qos: 1,
    });
    await client.endAsync();
    assert.deepEqual(mqtt.rpc.responses.at(-1), {
      device: 'a2',
      requestId: '7',
      payload: { ok: true },
    });
  });

  it('a gateway connects children and publishes their telemetry and attributes', async () => {
    const gw = await mqttClient(mqtt.url, { username: 'tok-gw' });
    await gw.publishAsync('v1/gateway/connect', JSON.stringify({ device: 'Pump 1' }), { qos: 1 });
    await gw.publishAsync(
      'v1/gateway/telemetry',
      JSON.stringify({
        'Pump 1': [{ ts: 1, values: { rpm: 900 } }],
        'Pump 2': [{ ts: 2, values: { rpm: 0 } }],
      }),
      { qos: 1 },
    );
    await gw.publishAsync('v1/gateway/attributes', JSON.stringify({ 'Pump 1': { model: 'P' } }), {
      qos: 1,
    });
    await gw.publishAsync('v1/gateway/disconnect', JSON.stringify({ device: 'Pump 1' }), {
      qos: 1,
    });
    await gw.endAsync();
    assert.deepEqual(
      stored('gw.Pump 1').map((m) => [m.kind, m.payload]),
      [
        ['telemetry', [{ ts: 1, values: { rpm: 900 } }]],
        ['attributes', { model: 'P' }],
      ],
    );
    assert.deepEqual(
      stored('gw.Pump 2').map((m) => m.payload),
      [[{ ts: 2, values: { rpm: 0 } }]],
    );
    assert.deepEqual(stored('gw'), [], 'nothing is stored as the gateway itself');
  });

  it('a QoS 2 PUBLISH sent again with DUP before its PUBREL is stored once', async () => {
    const socket = await rawSocket(mqtt.url);
    const packets = packetReader(socket);
    socket.write(connectPacket('qos2-dup', 'tok-a1'));
    assert.equal((await packets.next())[0], 0x20, 'CONNACK');
    const publish = (dup: boolean) => {
      const topic = Buffer.from(TELEMETRY);
      const body = Buffer.concat([
        Buffer.from([topic.length >> 8, topic.length & 0xff]),
        topic,
        Buffer.from([0x00, 0x07]),
        Buffer.from(JSON.stringify({ qos2: 1 })),
      ]);
      const header = 0x34 | (dup ? 0x08 : 0);
      return Buffer.concat([Buffer.from([header]), remainingLength(body.length), body]);
    };
    socket.write(publish(false));
    assert.deepEqual([...(await packets.next())], [0x50, 0x02, 0x00, 0x07], 'PUBREC');
    socket.write(publish(true));
    assert.deepEqual([...(await packets.next())], [0x50, 0x02, 0x00, 0x07], 'PUBREC again');
    socket.write(Buffer.from([0x62, 0x02, 0x00, 0x07]));
    assert.deepEqual([...(await packets.next())], [0x70, 0x02, 0x00, 0x07], 'PUBCOMP');
    socket.destroy();
    assert.deepEqual(
      stored('a1').filter((m) => JSON.stringify(m.payload) === '{"qos2":1}').length,
      1,
    );
  });

  it('a device that is not a gateway may not use the gateway topics', async () => {
    const client = await mqttClient(mqtt.url, { username: 'tok-a1' });
    const gone = closed(client);
    client.publish('v1/gateway/telemetry', JSON.stringify({ x: [{ a: 1 }] }), { qos: 1 });
    await gone;
    assert.deepEqual(stored('a1.x'), []);
  });

  it('an MQTT 5 client gets CONNACK 0x84 (unsupported protocol version) with a reason string', async () => {
    const error = await connectAsync(mqtt.url, {
      protocolVersion: 5,
      username: 'tok-a1',
      reconnectPeriod: 0,
      connectTimeout: PEER_TIMEOUT_MS,
    }).then(
      () => assert.fail('MQTT 5 must be refused'),
      (e: Error & { code?: number }) => e,
    );
    assert.equal(error.code, 0x84);
    const cli = await runCli('mosquitto_pub', [
      ...cliAddress(mqtt.url),
      '-V',
      'mqttv5',
      '-u',
      'tok-a1',
      '-t',
      TELEMETRY,
      '-m',
      '{}',
    ]);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /Unsupported Protocol Version/i);
  });

  it('counts refusals in Prometheus metrics by reason', async () => {
    const text = await mqtt.registry.metrics();
    for (const reason of [
      'bad_credentials',
      'subscription_not_allowed',
      'topic_not_allowed',
      'protocol_unsupported',
    ])
      assert.match(text, new RegExp(`palisade_mqtt_refusals_total\\{reason="${reason}"`));
    assert.match(text, /palisade_mqtt_messages_total\{kind="telemetry",qos="1"\} \d+/);
  });
});

/** The packets a raw socket receives, one at a time (fixed header, remaining length < 128). */
function packetReader(socket: Socket): { next(): Promise<Buffer> } {
  let buffered = Buffer.alloc(0);
  let waiting: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    waiting?.();
  });
  return {
    async next() {
      while (buffered.length < 2 || buffered.length < 2 + buffered[1]!)
        await new Promise<void>((resolve) => {
          waiting = resolve;
        });
      const packet = buffered.subarray(0, 2 + buffered[1]!);
      buffered = buffered.subarray(packet.length);
      return packet;
    },
  };
}
