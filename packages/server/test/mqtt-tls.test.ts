import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { mqttClient } from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';
import { selfSignedCertificate } from './support/tls-certificate.ts';

describe('MQTT over TLS (mqttTls), with the hybrid post-quantum key exchange preferred', () => {
  const certs = mkdtempSync(join(tmpdir(), 'palisade-mqtts-'));
  const { cert, key } = selfSignedCertificate(certs);
  let p: MqttPlatform;
  let dev: { id: string; token: string };
  let tenantKey: string;
  let tenantId: string;

  before(async () => {
    p = await startMqttPlatform('sqlite', { tlsCert: cert, tlsKey: key, mqttTls: '127.0.0.1:0' });
    const t = await p.tenant('mqtts');
    tenantKey = t.key;
    tenantId = t.id;
    dev = await p.device(t.key, 'thermostat');
  });
  after(async () => {
    await p.close();
    rmSync(certs, { recursive: true, force: true });
  });

  it('a device publishes over mqtts with its token; the PUBACK means stored and ledgered', async () => {
    const url = p.platform.mqtt?.tlsUrl;
    assert.match(String(url), /^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const client = await mqttClient(String(url), {
      username: dev.token,
      ca: readFileSync(cert),
      servername: 'localhost',
    });
    const socket = client.stream as unknown as TLSSocket;
    assert.equal(socket.encrypted, true);
    assert.ok(
      ['X25519MLKEM768', 'X25519'].includes(
        String((socket.getEphemeralKeyInfo() as { name?: string } | null)?.name),
      ),
    );
    await client.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 21.5 }), {
      qos: 1,
    });
    await client.endAsync();
    const latest = await p.call('GET', `/v1/devices/${dev.id}/telemetry/latest`, tenantKey);
    assert.equal(latest.status, 200);
    assert.match(JSON.stringify(latest.body), /"temperature".*21\.5/);
    assert.ok((await p.ledgerResources(tenantId)).includes(`telemetry/${dev.id}`));
  });

  it('a wrong token over TLS is refused like over TCP', async () => {
    await assert.rejects(
      mqttClient(String(p.platform.mqtt?.tlsUrl), {
        username: 'not-a-token',
        ca: readFileSync(cert),
        servername: 'localhost',
      }),
    );
  });

  it('mqttTls or mqttWs with mqtt off stops the start instead of running no listener', async () => {
    const extras: Record<string, string>[] = [
      { mqttTls: '127.0.0.1:0' },
      { mqttWs: '127.0.0.1:0' },
    ];
    for (const extra of extras) {
      await assert.rejects(
        startMqttPlatform('sqlite', { tlsCert: cert, tlsKey: key, mqtt: 'off', ...extra }),
        /setting mqtt(Tls|Ws) needs the MQTT listener, which mqtt=off turns off/,
      );
    }
  });

  it('the default MQTT address taken fails the start when mqttTls is asked for', async () => {
    // Taken here, or already (a Mosquitto on 1883): either way the platform cannot bind it.
    const holder = createServer();
    await new Promise<void>((resolve) => {
      holder.once('error', () => resolve());
      holder.listen(1883, '127.0.0.1', resolve);
    });
    try {
      await assert.rejects(
        startMqttPlatform('sqlite', {
          tlsCert: cert,
          tlsKey: key,
          mqtt: '127.0.0.1:1883',
          mqttTls: '127.0.0.1:0',
        }),
        (e) => (e as { code?: unknown }).code === 'EADDRINUSE',
      );
    } finally {
      holder.close();
    }
  });

  it('mqttTls without a certificate stops the start with a message naming the settings', async () => {
    await assert.rejects(
      startMqttPlatform('sqlite', { mqttTls: '127.0.0.1:0' }),
      /mqttTls needs tlsCert and tlsKey/,
    );
  });
});
