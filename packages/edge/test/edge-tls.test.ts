/**
 * TLS on the node's device listener (`--mqtt-tls` with `--tls-cert`/`--tls-key`): devices
 * publish through it with MQTT.js and mosquitto_pub, the hybrid post-quantum group is
 * preferred as on the platform, a client that does not trust the certificate gets nowhere,
 * and bad certificate files are usage errors, never a stack trace. Devices with a client
 * certificate of their tenant's CA connect without a password, also while the platform is
 * down; another tenant's, a self-signed one, and one whose credential or CA was deleted (after
 * the next refresh) are refused.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { serverGroups } from '@palisade/crypto';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { selfSignedCertificate } from '../../server/test/support/tls-certificate.ts';
import { CredentialCache, CredentialRefresh, DEFAULT_REFRESH } from '../src/credentials/index.ts';
import { EdgeMqttListener } from '../src/listener/index.ts';
import type { NodeFile } from '../src/node-file.ts';
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

/** A self-signed client certificate (no tenant CA vouches for it): PEM certificate and key. */
function selfSignedClient(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'self.pem');
  const key = join(dir, 'self.key');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=intruder'],
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

describe('X.509 device certificates at the node', () => {
  const certs = mkdtempSync(join(tmpdir(), 'edge-x509-certs-'));
  const server = selfSignedCertificate(certs);
  const ca = readFileSync(server.cert);
  const dir = join(mkdtempSync(join(tmpdir(), 'edge-x509-')), 'node');
  let link: PlatformLink;
  let tenantKey: string;
  let node: NodeFile;
  let caId: string;
  /** A device of the node's tenant, and one of another tenant, each with its own CA's certificate. */
  let meter: { id: string; credentialId: string; cert: string; key: string };
  let foreign: { cert: string; key: string };

  const issue = async (key: string, deviceId: string) => {
    const made = await link.call('POST', `/v1/devices/${deviceId}/credentials`, key, {
      type: 'x509',
      generate: true,
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    return {
      credentialId: made.body.id as string,
      cert: made.body.certificate as string,
      key: made.body.privateKey as string,
    };
  };
  const device = async (key: string, name: string, edgeNodeId?: string) =>
    (await link.call('POST', '/v1/devices', key, { name, edgeNodeId })).body.id as string;
  const connectWith = (url: string, client: { cert: string; key: string }) =>
    connectAsync(url, { ...client, ca, servername: 'localhost', reconnectPeriod: 0 });

  before(async () => {
    link = await PlatformLink.start();
    tenantKey = (await link.api.tenant('edge-x509')).key;
    caId = (await link.call('POST', '/v1/device-cas', tenantKey, { generate: true })).body.id;
    node = await enrollNode(link, tenantKey, dir);
    const meterId = await device(tenantKey, 'meter', node.nodeId);
    meter = { id: meterId, ...(await issue(tenantKey, meterId)) };
    const otherKey = (await link.api.tenant('edge-x509-other')).key;
    await link.call('POST', '/v1/device-cas', otherKey, { generate: true });
    foreign = await issue(otherKey, await device(otherKey, 'mole'));
  });
  after(async () => {
    await link.close();
    rmSync(certs, { recursive: true, force: true });
  });

  it('connects with its certificate alone, online and with the platform down; its messages reach the platform', async () => {
    const edge = new EdgeProcess([
      ...['--dir', dir, '--mqtt-tls', '127.0.0.1:0'],
      ...['--tls-cert', server.cert, '--tls-key', server.key],
    ]);
    try {
      const logged = (event: string) => edge.logs.some((l) => l.event === event);
      await until(() => logged('started') && logged('credentials-refreshed'));
      const mqtts = String(edge.logs.find((l) => l.event === 'started')?.mqttTls);
      const online = await connectWith(mqtts, meter);
      await online.publishAsync(TELEMETRY, JSON.stringify({ n: 10 }), { qos: 1 });
      await online.endAsync();
      const files = { cert: join(certs, 'meter.pem'), key: join(certs, 'meter.key') };
      writeFileSync(files.cert, meter.cert);
      writeFileSync(files.key, meter.key);
      await promisify(execFile)('mosquitto_pub', [
        ...['-h', 'localhost', '-p', new URL(mqtts).port, '--cafile', server.cert],
        ...['--cert', files.cert, '--key', files.key, '-q', '1', '-t', TELEMETRY, '-m', '{"n":11}'],
      ]);
      await until(drained(dir));
      await link.stopPlatform();
      const offline = await connectWith(mqtts, meter);
      await offline.publishAsync(TELEMETRY, JSON.stringify({ n: 12 }), { qos: 1 });
      await offline.endAsync();
      await link.restartPlatform();
      await until(drained(dir));
      const values = await link.values(tenantKey, meter.id);
      assert.deepEqual(
        [10, 11, 12].filter((n) => values.includes(n)),
        [10, 11, 12],
      );
    } finally {
      await edge.stop();
    }
  });

  describe('refused', () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'edge-x509-cache-'));
    let cache: CredentialCache;
    let listener: EdgeMqttListener;
    const refresh = () => new CredentialRefresh(cache, node, DEFAULT_REFRESH).refreshOnce();

    before(async () => {
      cache = new CredentialCache(join(cacheDir, 'credentials.db'));
      await refresh();
      listener = new EdgeMqttListener({
        tls: {
          host: '127.0.0.1',
          port: 0,
          cert: readFileSync(server.cert),
          key: readFileSync(server.key),
        },
        credentials: cache,
        accept: () => {},
      });
      await listener.start();
    });
    after(async () => {
      await listener.close();
      cache.close();
      rmSync(cacheDir, { recursive: true, force: true });
    });

    it("another tenant's CA certificate, and a self-signed one", async () => {
      await assert.rejects(connectWith(listener.tlsUrl, foreign), /Bad username or password/);
      await assert.rejects(
        connectWith(listener.tlsUrl, selfSignedClient(certs)),
        /Bad username or password/,
      );
    });

    it('a credential deleted on the platform, after the next refresh, which also cuts its connection', async () => {
      const gateId = await device(tenantKey, 'gate', node.nodeId);
      const gate = await issue(tenantKey, gateId);
      await refresh();
      const client = await connectWith(listener.tlsUrl, gate);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      await link.call(
        'DELETE',
        `/v1/devices/${gateId}/credentials/${gate.credentialId}`,
        tenantKey,
      );
      await refresh();
      await closed;
      await assert.rejects(connectWith(listener.tlsUrl, gate), /Bad username or password/);
    });

    it('every certificate of a CA deleted on the platform, after the next refresh', async () => {
      const client = await connectWith(listener.tlsUrl, meter);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      await link.call('DELETE', `/v1/device-cas/${caId}`, tenantKey);
      await refresh();
      await closed;
      await assert.rejects(connectWith(listener.tlsUrl, meter), /Bad username or password/);
    });
  });
});
