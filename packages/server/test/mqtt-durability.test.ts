/**
 * PUBACK means durable: MQTT.js publishers send QoS 1 telemetry at full speed (a window of
 * unacknowledged messages each) to a real `palisade start` process, which is SIGKILLed once
 * enough PUBACKs came back. After a restart on the same stores, every acknowledged message
 * is a stored point and a ledger entry of its own. Over TCP and over WebSocket.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { ADMIN_TOKEN } from './support/api.ts';
import { type BackendFixture, backendNames, openBackend } from './support/backends.ts';
import { mqttClient } from './support/mqtt-peers.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const PUBLISHERS = 8;
/** Unacknowledged messages each publisher keeps in flight. */
const WINDOW = 32;
const ACKS_BEFORE_KILL = 1500;
/** Guards against a hung child; never a timing assertion. */
const START_TIMEOUT_MS = 60_000;
const BASE_TS = Date.now() - 3_600_000;

interface Server {
  readonly url: string;
  readonly mqtt: string;
  readonly mqttWs: string;
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
}

function startServer(settings: BackendFixture['settings']): Promise<Server> {
  const env: NodeJS.ProcessEnv = { ...process.env, PALISADE_ADMIN_TOKEN: ADMIN_TOKEN };
  for (const key of Object.keys(env))
    if (key.startsWith('NODE_TEST') || (key.startsWith('PALISADE_') && !key.endsWith('_TOKEN')))
      delete env[key];
  const flags = [
    '--data',
    settings.data,
    '--listen',
    '127.0.0.1:0',
    '--mqtt',
    '127.0.0.1:0',
    '--mqtt-ws',
    '127.0.0.1:0',
    '--page-size-max',
    '100000',
    ...settings.shards.flatMap((shard) => ['--shard', shard]),
    ...(settings.database === undefined
      ? []
      : ['--database', settings.database, '--postgres-runtime-role', settings.postgresRuntimeRole]),
  ];
  const child = spawn(
    process.execPath,
    ['--conditions=@palisade/source', 'packages/cli/src/main.ts', 'start', ...flags],
    { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  let out = '';
  child.stderr.resume();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start\n${out}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: string) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.includes('palisade is listening'));
      if (line === undefined) return;
      clearTimeout(timer);
      child.stdout.off('data', onData).resume();
      const log = JSON.parse(line) as { url: string; mqtt: string; mqttWs: string };
      resolve({ url: log.url, mqtt: log.mqtt, mqttWs: log.mqttWs, child, exited });
    };
    child.stdout.setEncoding('utf8').on('data', onData);
  });
}

async function http(
  url: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: response JSON is read field by field
): Promise<any> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = await response.json();
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
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
          let server = await startServer(fixture.settings);
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

          server = await startServer(fixture.settings);
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
