/**
 * The listener tells the RPC queue which requests a device took: the PUBACK of the very
 * PUBLISH that carried the request, from that connection. A connection that ends first, or
 * another connection's PUBACK with the same packet identifier, acknowledges nothing.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { OutgoingAcks } from '../src/mqtt/outgoing-acks.ts';
import { type FakeListener, identity, startFakeListener } from './support/mqtt-fakes.ts';
import { connectPacket, mqttClient, rawSocket } from './support/mqtt-peers.ts';

const REQUESTS = 'v1/devices/me/rpc/request/+';
const BODY = { method: 'open', params: { valve: 1 } };

/** Keeps `client` from acknowledging what it receives; resolves with each packet's identifier. */
function withholdingPubacks(client: MqttClient): () => Promise<number> {
  const ids: number[] = [];
  let wake: (() => void) | undefined;
  // MQTT.js writes a QoS 1 PUBACK once handleMessage calls back; this one never does.
  client.handleMessage = (packet) => {
    ids.push(packet.messageId ?? 0);
    wake?.();
  };
  return async () => {
    while (ids.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return ids.shift()!;
  };
}

/** The bytes `socket` receives, read until `done` finds what it waits for in them. */
function readUntil(socket: Socket, done: (received: Buffer) => boolean): Promise<void> {
  let received = Buffer.alloc(0);
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (!done(received)) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
  });
}

describe('RPC acknowledgements on the MQTT listener', () => {
  let mqtt: FakeListener;
  before(async () => {
    mqtt = await startFakeListener();
    mqtt.auth.tokens.set('tok-a', identity('tenant-a', 'a'));
    mqtt.auth.tokens.set('tok-b', identity('tenant-b', 'b'));
  });
  after(() => mqtt.close());

  it("a request is acknowledged by the device's PUBACK", async () => {
    const client = await mqttClient(mqtt.url, { username: 'tok-a' });
    await client.subscribeAsync(REQUESTS, { qos: 1 });
    const written = await mqtt.rpc.send('tenant-a', 'a', '1', BODY);
    assert.equal(await written.acknowledged, true);
    await client.endAsync();
  });

  it('a request the device received but whose connection ended before its PUBACK is not acknowledged', async () => {
    const client = await mqttClient(mqtt.url, { username: 'tok-a' });
    const received = withholdingPubacks(client);
    await client.subscribeAsync(REQUESTS, { qos: 1 });
    const written = await mqtt.rpc.send('tenant-a', 'a', '2', BODY);
    await received();
    client.stream.destroy();
    assert.equal(await written.acknowledged, false);
  });

  it("another tenant's connection acknowledges nothing with the request's packet identifier", async () => {
    const device = await mqttClient(mqtt.url, { username: 'tok-a' });
    const received = withholdingPubacks(device);
    await device.subscribeAsync(REQUESTS, { qos: 1 });
    const written = await mqtt.rpc.send('tenant-a', 'a', '3', BODY);
    const messageId = await received();

    const other = await rawSocket(mqtt.url);
    const connack = readUntil(other, (bytes) => bytes.length >= 4);
    other.write(connectPacket('b-raw', 'tok-b'));
    await connack;
    // Its PUBACK with the request's identifier, then a PINGREQ: the PINGRESP comes once the
    // listener handled the PUBACK (one client's packets are handled in order).
    const pingresp = readUntil(other, (bytes) => bytes.includes(0xd0));
    other.write(Buffer.from([0x40, 0x02, messageId >> 8, messageId & 0xff, 0xc0, 0x00]));
    await pingresp;
    other.destroy();

    // Had that PUBACK counted, this would be true.
    device.stream.destroy();
    assert.equal(await written.acknowledged, false);
  });

  it('a device that subscribed at QoS 0 gets its requests at QoS 0, taken once written', async () => {
    const client = await mqttClient(mqtt.url, { username: 'tok-a' });
    const qos = new Promise<number>((resolve) =>
      client.once('message', (_topic, _payload, packet) => resolve(packet.qos)),
    );
    await client.subscribeAsync(REQUESTS, { qos: 0 });
    const written = await mqtt.rpc.send('tenant-a', 'a', '4', BODY);
    assert.equal(await qos, 0);
    assert.equal(await written.acknowledged, true);
    await client.endAsync();
  });
});

describe('outgoing packet identifiers', () => {
  it('an identifier stays taken until its PUBACK, past a wait that gave up on it', async () => {
    const acks = new OutgoingAcks();
    const first = acks.take()!;
    assert.equal(await acks.acknowledged(first, 1), false, 'the wait gave up');
    for (let i = 1; i < 65_535; i++) assert.notEqual(acks.take(), first);
    assert.equal(acks.take(), undefined, 'every identifier is taken');
    acks.acknowledge(first);
    assert.equal(acks.take(), first, 'free again once acknowledged');
  });

  it('a connection that ends acknowledges nothing more and takes no identifier', async () => {
    const acks = new OutgoingAcks();
    const waiting = acks.acknowledged(acks.take()!, 60_000);
    acks.end();
    assert.equal(await waiting, false);
    assert.equal(acks.take(), undefined);
  });
});
