/**
 * PUBACK means durable: MQTT.js publishers send QoS 1 telemetry at full speed (a window of
 * unacknowledged messages each) to a real `palisade start` process, which is SIGKILLed once
 * enough PUBACKs came back. After a restart on the same stores, every acknowledged message
 * is a stored point and a ledger entry of its own. Over TCP and over WebSocket.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { ADMIN_TOKEN } from './support/api.ts';
import { type BackendFixture, backendNames, openBackend } from './support/backends.ts';
import { httpCall } from './support/http.ts';
import { mqttClient } from './support/mqtt-peers.ts';
import { type PlatformProcess, startPlatformProcess } from './support/platform-process.ts';

const PUBLISHERS = 8;
/** Unacknowledged messages each publisher keeps in flight. */
const WINDOW = 32;
const ACKS_BEFORE_KILL = 1500;
const BASE_TS = Date.now() - 3_600_000;

/** `palisade start` listening for MQTT over TCP and WebSocket, at the addresses it logs. */
async function startServer(
  fixture: BackendFixture,
): Promise<PlatformProcess & { mqtt: string; mqttWs: string }> {
  const server = await startPlatformProcess(fixture, {
    adminToken: ADMIN_TOKEN,
    flags: [
      ...['--mqtt', '127.0.0.1:0', '--mqtt-ws', '127.0.0.1:0'],
      ...['--page-size-max', '100000'],
    ],
  });
  return { ...server, mqtt: String(server.started.mqtt), mqttWs: String(server.started.mqttWs) };
}

/** The answer's JSON, or an error naming the request when it is not a success. */
async function http(url: string, method: string, path: string, token: string, body?: unknown) {
  const reply = await httpCall(url, method, path, token, body);
  if (reply.status >= 300)
    throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

/** Publishes seq 0, 1, 2… keeping WINDOW in flight, until the connection dies. */
async function publishFlat(client: MqttClient, writer: number, acked: Set<number>): Promise<void> {
  let seq = 0;
  const one = async (): Promise<void> => {
    while (client.connected) {
      const id = writer * 1_000_000 + seq++;
      const payload = JSON.stringify({ ts: BASE_TS + id, values: { seq: id } });
      try {
        await client.publishAsync('v1/devices/me/telemetry', payload, { qos: 1 });
        acked.add(id);
      } catch {
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, one));
}

for (const backend of backendNames()) {
  describe(`MQTT durability (${backend})`, () => {
    for (const transport of ['tcp', 'websocket'] as const)
      it(`over ${transport}, every PUBACKed message is stored and ledgered after SIGKILL and restart`, async () => {
        const fixture = await openBackend(backend);
        try {
          let server = await startServer(fixture);
          const tenant = await http(server.url, 'POST', '/v1/platform/tenants', ADMIN_TOKEN, {
            slug: 'durable',
            name: 'durable',
          });
          const key = await http(
            server.url,
            'POST',
            `/v1/platform/tenants/${tenant.id}/api-keys`,
            ADMIN_TOKEN,
            {
              name: 'k',
            },
          );
          const device = await http(server.url, 'POST', '/v1/devices', key.secret, { name: 'd' });
          const acked = new Set<number>();
          const clients = await Promise.all(
            Array.from({ length: PUBLISHERS }, () =>
              mqttClient(transport === 'tcp' ? server.mqtt : server.mqttWs, {
                username: device.credentials.token,
              }),
            ),
          );
          const running = clients.map((client, writer) => publishFlat(client, writer, acked));
          await new Promise<void>((resolve) => {
            const check = setInterval(() => {
              if (acked.size < ACKS_BEFORE_KILL) return;
              clearInterval(check);
              resolve();
            }, 5);
          });
          server.child.kill('SIGKILL');
          await server.exited;
          const ackedAtKill = new Set(acked);
          for (const client of clients) client.end(true);
          await Promise.all(running);
          assert.ok(ackedAtKill.size >= ACKS_BEFORE_KILL);

          server = await startServer(fixture);
          try {
            const points = await http(
              server.url,
              'GET',
              `/v1/devices/${device.id}/telemetry?keys=seq&from=${BASE_TS}&to=${BASE_TS + 10_000_000}&limit=100000`,
              key.secret,
            );
            const stored = new Set<number>(points.seq.map((p: { value: number }) => p.value));
            const lost = [...acked].filter((id) => !stored.has(id));
            assert.deepEqual(lost, [], 'every acknowledged message is stored');
            for (const p of points.seq as Array<{ ts: number; value: number }>)
              assert.equal(p.ts, BASE_TS + p.value, 'no torn point');
          } finally {
            server.child.kill('SIGTERM');
            await server.exited;
          }
          // The ledger, read from the stores directly (no HTTP route shape assumed).
          const { openStores } = await import('../src/index.ts');
          const stores = await openStores(fixture.settings);
          try {
            const t = await stores.controlPlane.getTenant(tenant.id);
            const store = await stores.shards.get(t!.shard)!.tenant(tenant.id);
            const head = await store.reader.ledgerHead();
            const entries = await store.reader.ledgerEntries(0, head.nextSeq);
            const mine = entries.filter((e) => e.resource === `telemetry/${device.id}`);
            assert.ok(
              mine.length >= acked.size,
              `${mine.length} ledger entries for ${acked.size} PUBACKs`,
            );
          } finally {
            await stores.close();
          }
        } finally {
          await fixture.cleanup();
        }
      });
  });
}
