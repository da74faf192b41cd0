/**
 * TLS on the node's device listener (`--mqtt-tls` with `--tls-cert`/`--tls-key`): devices
 * publish through it with MQTT.js and mosquitto_pub, the hybrid post-quantum group is
 * preferred as on the platform, a client that does not trust the certificate gets nowhere,
 * and bad certificate files are usage errors, never a stack trace.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { serverGroups } from '@palisade/crypto';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { selfSignedCertificate } from '../../server/test/support/tls-certificate.ts';
import {
  drained,
  EdgeProcess,
  enrollNode,
  PlatformLink,
  runCli,
  until,
} from './support/edge-harness.ts';

const TELEMETRY = 'v1/devices/me/telemetry';

/** The key-exchange group the client saw negotiated. */
const groupOf = (client: MqttClient) =>
  ((client.stream as unknown as TLSSocket).getEphemeralKeyInfo() as { name?: string }).name;

describe('palisade-edge start --mqtt-tls', () => {
  const certs = mkdtempSync(join(tmpdir(), 'edge-tls-certs-'));
  const { cert, key } = selfSignedCertificate(certs);
  const ca = readFileSync(cert);
  const dir = join(mkdtempSync(join(tmpdir(), 'edge-tls-')), 'node');
  let link: PlatformLink;
  let tenantKey: string;
  let device: { id: string; token: string };
  let edge: EdgeProcess;
  let mqtts: string;

  before(async () => {
    link = await PlatformLink.start();
    tenantKey = (await link.api.tenant('edge-tls')).key;
    const node = await enrollNode(link, tenantKey, dir);
    const made = await link.call('POST', '/v1/devices', tenantKey, {
      name: 'meter',
      edgeNodeId: node.nodeId,
    });
    device = { id: made.body.id, token: made.body.credentials.token };
    edge = new EdgeProcess([
      ...['--dir', dir, '--mqtt-tls', '127.0.0.1:0'],
      ...['--tls-cert', cert, '--tls-key', key],
    ]);
    const logged = (event: string) => edge.logs.some((l) => l.event === event);
    await until(() => logged('started') && logged('credentials-refreshed'));
    const started = edge.logs.find((l) => l.event === 'started') as Record<string, unknown>;
    assert.equal(started.mqtt, null, 'no plain listener unless --mqtt asks for one');
    mqtts = String(started.mqttTls);
  });
  after(async () => {
    await edge.stop();
    await link.close();
    rmSync(certs, { recursive: true, force: true });
  });

  it('MQTT.js publishes over TLS with the preferred group, and the value reaches the platform', async () => {
    assert.match(mqtts, /^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const client = await connectAsync(mqtts, {
      username: device.token,
      ca,
      servername: 'localhost',
      reconnectPeriod: 0,
    });
    const socket = client.stream as unknown as TLSSocket;
    assert.equal(socket.encrypted, true);
    assert.equal(groupOf(client), serverGroups()[0]);
    await client.publishAsync(TELEMETRY, JSON.stringify({ n: 1 }), { qos: 1 });
    await client.endAsync();
    await until(async () => (await link.values(tenantKey, device.id)).includes(1));
  });

  it('a client offering only X25519 falls back to it', async () => {
    // MQTT.js hands its options to tls.connect, which takes the client's groups as ecdhCurve.
    const options = { username: device.token, ca, servername: 'localhost', ecdhCurve: 'X25519' };
    const client = await connectAsync(mqtts, { ...options, reconnectPeriod: 0 } as IClientOptions);
    assert.equal(groupOf(client), 'X25519');
    await client.endAsync();
  });

  it('mosquitto_pub --cafile publishes through the node', async () => {
    const port = new URL(mqtts).port;
    await promisify(execFile)('mosquitto_pub', [
      ...['-h', 'localhost', '-p', port, '--cafile', cert],
      ...['-u', device.token, '-q', '1', '-t', TELEMETRY, '-m', '{"n":2}'],
    ]);
    await until(drained(dir));
    await until(async () => (await link.values(tenantKey, device.id)).includes(2));
  });

  it('a client that does not trust the certificate is refused at the handshake', async () => {
    await assert.rejects(
      connectAsync(mqtts, { username: device.token, reconnectPeriod: 0 }),
      /self-signed certificate/,
    );
  });
});

describe('palisade-edge start: bad TLS flags and files are usage errors', () => {
  const certs = mkdtempSync(join(tmpdir(), 'edge-tls-bad-'));
  const { cert, key } = selfSignedCertificate(certs);
  const other = selfSignedCertificate(mkdtempSync(join(certs, 'other-')));
  const dir = join(certs, 'node');
  after(() => rmSync(certs, { recursive: true, force: true }));

  const start = (...args: string[]) =>
    runCli(['start', '--dir', dir, '--mqtt-tls', '127.0.0.1:0', ...args]);

  it('each bad case exits 2 with one line naming the flag', async () => {
    const garbage = join(certs, 'garbage.pem');
    writeFileSync(garbage, 'not a pem\n');
    const unreadable = join(certs, 'unreadable.pem');
    writeFileSync(unreadable, readFileSync(key));
    chmodSync(unreadable, 0o000);
    const cases: [string[], RegExp][] = [
      [['--tls-cert', cert], /--mqtt-tls needs --tls-cert and --tls-key/],
      [['--tls-cert', join(certs, 'missing.pem'), '--tls-key', key], /--tls-cert .*missing\.pem/],
      [['--tls-cert', cert, '--tls-key', garbage], /--tls-key .*garbage\.pem/],
      [['--tls-cert', cert, '--tls-key', other.key], /--tls-key .* does not match --tls-cert/],
    ];
    // root reads a file of mode 000; a directory is unreadable as a key for everyone.
    if (process.getuid?.() !== 0)
      cases.push([['--tls-cert', cert, '--tls-key', unreadable], /--tls-key .*unreadable/]);
    cases.push([['--tls-cert', cert, '--tls-key', certs], /--tls-key .*edge-tls-bad-/]);
    for (const [args, message] of cases) {
      const run = await start(...args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /^palisade-edge: [^\n]+\n$/);
      assert.match(run.stderr, message);
    }
    const stray = await runCli(['start', '--dir', dir, '--tls-cert', cert, '--tls-key', key]);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /--tls-cert and --tls-key serve --mqtt-tls/);
  });
});
