/**
 * MQTT over WebSocket (`mqttWs`): MQTT.js devices over ws:// and wss:// against the real
 * platform on each backend (the PUBACK means stored and ledgered; wss prefers the hybrid
 * post-quantum group), and bad frames against the listener (no `mqtt` subprotocol, plain
 * HTTP, garbage, oversized and MQTT 5 frames): each is refused, the listener stays up.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { WebSocket } from 'ws';
import { backendNames } from './support/backends.ts';
import { type FakeListener, identity, startFakeListener } from './support/mqtt-fakes.ts';
import {
  connectPacket,
  mqttClient,
  PEER_TIMEOUT_MS,
  rawSocket,
  readUntilClosed,
} from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';
import { selfSignedCertificate } from './support/tls-certificate.ts';

const TELEMETRY = 'v1/devices/me/telemetry';

/** An MQTT 5 CONNECT (protocol level 5, clean start, no properties) with client id `v5`. */
const MQTT5_CONNECT = Buffer.from([
  ...[0x10, 15, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x3c, 0x00],
  ...[0x00, 0x02, 0x76, 0x35],
]);

/** What the listener answers it: CONNACK, reason 0x84, reason string property (0x1f). */
function mqtt5Refusal(): Buffer {
  const reason = Buffer.from('this listener speaks MQTT 3.1.1; MQTT 5 is not supported');
  const properties = Buffer.concat([Buffer.from([0x1f, 0, reason.length]), reason]);
  const body = Buffer.concat([Buffer.from([0x00, 0x84, properties.length]), properties]);
  return Buffer.concat([Buffer.from([0x20, body.length]), body]);
}

for (const backend of backendNames()) {
  for (const secure of [false, true]) {
    const scheme = secure ? 'wss' : 'ws';
    describe(`MQTT over ${scheme}:// on the platform (${backend})`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'palisade-mqtt-ws-'));
      const files = secure ? selfSignedCertificate(dir) : undefined;
      let p: MqttPlatform;
      let t: { id: string; key: string };
      let dev: { id: string; token: string };

      before(async () => {
        p = await startMqttPlatform(backend, {
          mqttWs: '127.0.0.1:0',
          ...(files === undefined ? {} : { tlsCert: files.cert, tlsKey: files.key }),
        });
        t = await p.tenant('ws');
        dev = await p.device(t.key, 'browser-gateway');
      });
      after(async () => {
        await p.close();
        rmSync(dir, { recursive: true, force: true });
      });

      it(`MQTT.js publishes over ${scheme}://; the PUBACK means stored and ledgered`, async () => {
        const url = String(p.platform.mqtt?.wsUrl);
        assert.match(url, new RegExp(`^${scheme}://127\\.0\\.0\\.1:\\d+$`));
        const client = await mqttClient(
          url,
          files === undefined
            ? { username: dev.token }
            : { username: dev.token, ca: readFileSync(files.cert), servername: 'localhost' },
        );
        await client.publishAsync(TELEMETRY, JSON.stringify({ temperature: 22.5, on: true }), {
          qos: 1,
        });
        await client.endAsync();
        const latest = await p.call('GET', `/v1/devices/${dev.id}/telemetry/latest`, t.key);
        assert.equal(latest.status, 200);
        assert.match(JSON.stringify(latest.body), /"temperature".*22\.5/);
        assert.ok((await p.ledgerResources(t.id)).includes(`telemetry/${dev.id}`));
      });

      it('a wrong token is refused with CONNACK 4, as over TCP', async () => {
        const error = await mqttClient(String(p.platform.mqtt?.wsUrl), {
          username: 'not-a-token',
          ...(files === undefined ? {} : { ca: readFileSync(files.cert), servername: 'localhost' }),
        }).then(
          () => assert.fail('a wrong token must be refused'),
          (e: Error & { code?: number }) => e,
        );
        assert.equal(error.code, 4);
      });

      if (files !== undefined) {
        it('wss:// prefers X25519MLKEM768 like the HTTPS and MQTTS listeners', async () => {
          const ws = new WebSocket(String(p.platform.mqtt?.wsUrl), 'mqtt', {
            ca: readFileSync(files.cert),
          });
          await new Promise((resolve, reject) => {
            ws.once('open', resolve);
            ws.once('error', reject);
          });
          const socket = (ws as unknown as { _socket: TLSSocket })._socket;
          const group = (socket.getEphemeralKeyInfo() as { name?: string } | null)?.name;
          assert.ok(['X25519MLKEM768', 'X25519'].includes(String(group)), String(group));
          ws.close();
        });
      }
    });
  }
}

/** Opens a raw WebSocket and resolves with how it ended: an HTTP status or a close code. */
function outcome(
  url: string,
  protocols: string[],
  send: (ws: WebSocket) => void = () => undefined,
): Promise<{ status?: number; close?: number; received: Buffer[] }> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    const ws = new WebSocket(url, protocols, { handshakeTimeout: PEER_TIMEOUT_MS });
    ws.on('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0, received });
      response.resume();
      ws.terminate();
    });
    ws.on('open', () => send(ws));
    ws.on('message', (data: Buffer) => received.push(data));
    ws.on('error', () => undefined);
    ws.on('close', (code) => resolve({ close: code, received }));
  });
}

describe('MQTT over WebSocket: bad frames and handshakes', () => {
  let mqtt: FakeListener;
  let url: string;

  before(async () => {
    mqtt = await startFakeListener({ maxPacket: 4096 }, { host: '127.0.0.1', port: 0 });
    mqtt.auth.tokens.set('tok-w', identity('tenant-w', 'w'));
    url = String(mqtt.listener.wsUrl);
  });
  after(() => mqtt.close());

  it('an upgrade without the mqtt subprotocol is refused with 400 and counted', async () => {
    assert.equal((await outcome(url, [])).status, 400);
    assert.equal((await outcome(url, ['mqttv5', 'chat'])).status, 400);
    assert.match(
      await mqtt.registry.metrics(),
      /palisade_mqtt_refusals_total\{reason="websocket_subprotocol",code="none"\} 2/,
    );
  });

  it('a plain HTTP request gets 426 Upgrade Required', async () => {
    const response = await fetch(url.replace(/^ws/, 'http'));
    assert.equal(response.status, 426);
    assert.match(await response.text(), /MQTT over WebSocket/);
  });

  it('garbage, a PUBLISH before CONNECT and a bad length close the WebSocket', async () => {
    const frames = [
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      Buffer.from([0x30, 0x03, 0x00, 0x01, 0x61]),
      Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]),
      Buffer.concat([connectPacket('c', 'tok-w'), Buffer.from([0xf0, 0x00])]),
    ];
    for (const frame of frames) {
      const ended = await outcome(url, ['mqtt'], (ws) => ws.send(frame));
      assert.notEqual(ended.close, undefined, frame.toString('hex'));
    }
    const text = await outcome(url, ['mqtt'], (ws) => ws.send('{"not":"mqtt"}'));
    assert.notEqual(text.close, undefined);
  });

  it('a WebSocket frame over the packet bound closes with 1009 before it is buffered', async () => {
    const ended = await outcome(url, ['mqtt'], (ws) => ws.send(Buffer.alloc(4097)));
    assert.equal(ended.close, 1009);
  });

  it('an MQTT packet announcing more than the bound closes the connection', async () => {
    const ended = await outcome(url, ['mqtt'], (ws) => {
      ws.send(connectPacket('big', 'tok-w'));
      ws.send(Buffer.from([0x30, 0xff, 0xff, 0x03]));
    });
    assert.notEqual(ended.close, undefined);
    assert.match(await mqtt.registry.metrics(), /reason="packet_too_large"/);
  });

  it('an MQTT 5 CONNECT gets exactly CONNACK 0x84 with its reason string, then the close', async () => {
    const tcp = await rawSocket(mqtt.url);
    const tcpAnswer = readUntilClosed(tcp);
    tcp.write(MQTT5_CONNECT);
    assert.deepEqual(await tcpAnswer, mqtt5Refusal());
    const ws = await outcome(url, ['mqtt'], (socket) => socket.send(MQTT5_CONNECT));
    assert.deepEqual(Buffer.concat(ws.received), mqtt5Refusal());
    assert.notEqual(ws.close, undefined);
    assert.match(await mqtt.registry.metrics(), /reason="protocol_unsupported",code="none"\} 2/);
  });

  it('MQTT.js as an MQTT 5 client over WebSocket sees reason code 0x84', async () => {
    const error = await mqttClient(url, { protocolVersion: 5, username: 'tok-w' }).then(
      () => assert.fail('MQTT 5 must be refused'),
      (e: Error & { code?: number }) => e,
    );
    assert.equal(error.code, 0x84);
  });

  it('a CONNECT split across WebSocket messages still connects; the listener is up', async () => {
    const connect = connectPacket('split', 'tok-w');
    const ended = await outcome(url, ['mqtt'], (ws) => {
      ws.send(connect.subarray(0, 3));
      ws.send(connect.subarray(3));
      ws.on('message', () => ws.close(1000));
    });
    assert.equal(ended.close, 1000);
    assert.deepEqual(ended.received, [Buffer.from([0x20, 0x02, 0x00, 0x00])], 'one message');
    const client = await mqttClient(url, { username: 'tok-w' });
    await client.publishAsync(TELEMETRY, JSON.stringify({ after: 1 }), { qos: 1 });
    await client.endAsync();
    assert.deepEqual(
      mqtt.ingest.messages().map((m) => m.payload),
      [{ after: 1 }],
    );
  });
});

describe('MQTT over WebSocket: back-pressure', () => {
  let mqtt: FakeListener;

  before(async () => {
    mqtt = await startFakeListener({ clientInflightMax: 2 }, { host: '127.0.0.1', port: 0 });
    mqtt.auth.tokens.set('tok-slow', identity('tenant-w', 'slow'));
    mqtt.auth.tokens.set('tok-fast', identity('tenant-w', 'fast'));
  });
  after(() => mqtt.close());

  it('over the in-flight bound a publisher waits; nothing is dropped, every PUBACK follows storage', async () => {
    const url = String(mqtt.listener.wsUrl);
    const slow = await mqttClient(url, { username: 'tok-slow' });
    const fast = await mqttClient(url, { username: 'tok-fast' });
    mqtt.ingest.hold('slow');
    let started = 0;
    const two = new Promise<void>((resolve) => {
      mqtt.ingest.onStart = (device) => device.deviceId === 'slow' && ++started === 2 && resolve();
    });
    let acked = 0;
    const publishes = Array.from({ length: 20 }, (_, i) =>
      slow.publishAsync(TELEMETRY, JSON.stringify({ i }), { qos: 1 }).then(() => acked++),
    );
    await two;
    await fast.publishAsync(TELEMETRY, JSON.stringify({ round: 'trip' }), { qos: 1 });
    assert.equal(started, 2, 'only clientInflightMax messages are taken in while held');
    assert.equal(acked, 0);
    mqtt.ingest.release('slow');
    await Promise.all(publishes);
    mqtt.ingest.onStart = undefined;
    const stored = mqtt.ingest.messages().filter((m) => m.device === 'slow');
    assert.deepEqual(
      stored.map((m) => (m.payload as { i: number }).i),
      Array.from({ length: 20 }, (_, i) => i),
    );
    await Promise.all([slow.endAsync(), fast.endAsync()]);
  });
});
