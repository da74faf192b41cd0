import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { streamName } from '../src/bus/index.ts';
import { TENANT_CONTROL_TABLES } from '../src/store/tenant-rows.ts';
import { ADMIN_TOKEN } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { busFlags } from './support/buses.ts';
import { controlPlaneSql } from './support/control-plane-sql.ts';
import { closed, mqttClient } from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';

/**
 * What a deleted tenant leaves behind, looked at behind the platform's back: the bus's stored
 * messages (bus.db bytes, or JetStream's messages), the control plane's rows, the relay's
 * cursors, and its live connections (SSE, MQTT), which end at the deletion itself. Runs on
 * SQLite with the in-process bus, and on PostgreSQL with NATS JetStream when both are set.
 */

/** Polls `check` until it holds (the telemetry event is published after the acknowledgement). */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let waited = 0; !(await check()); waited += 50) {
    if (waited > 20_000) throw new Error(`never: ${what}`);
    await sleep(50);
  }
}

/** Whether `text` is anywhere in the platform's bus store. */
function busHolds(p: MqttPlatform, text: string): Promise<boolean> {
  const { settings } = p.fixture;
  if (settings.nats === undefined)
    return Promise.resolve(
      ['bus.db', 'bus.db-wal'].some((file) => {
        const path = join(settings.data, file);
        return existsSync(path) && readFileSync(path).includes(text);
      }),
    );
  return (async () => {
    const nc = await connect({ servers: settings.nats });
    try {
      const jsm = await jetstreamManager(nc);
      for (let seq = 1; ; ) {
        const query = { next_by_subj: `${settings.busPrefix}.>`, seq } as unknown as {
          seq: number;
        };
        const m = await jsm.streams.getMessage(streamName(settings.busPrefix), query);
        if (m === null) return false;
        if (`${m.subject} ${Buffer.from(m.data).toString()}`.includes(text)) return true;
        seq = m.seq + 1;
      }
    } finally {
      await nc.close();
    }
  })();
}

/** Runs a query on the control plane, as its owner. */
function controlPlane(p: MqttPlatform, sql: string, params: string[]): Promise<unknown[]> {
  return controlPlaneSql(p.fixture.settings, sql, params);
}

async function rowsOf(p: MqttPlatform, tenantId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TENANT_CONTROL_TABLES) {
    const [row] = (await controlPlane(
      p,
      `SELECT count(*) AS n FROM ${table} WHERE tenant_id = $1`,
      [tenantId],
    )) as { n: number | string }[];
    counts[table] = Number(row?.n);
  }
  return counts;
}

/** An open SSE stream of the tenant's telemetry; `ended` resolves when the server ends it. */
async function liveStream(p: MqttPlatform, key: string) {
  const response = await fetch(`${p.platform.url}/v1/telemetry/stream`, {
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('connected')) text += decoder.decode((await reader.read()).value);
  const ended = (async () => {
    for (;;) {
      const chunk = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (chunk.done) return text;
      text += decoder.decode(chunk.value);
    }
  })();
  return { ended };
}

for (const backend of backendNames()) {
  const bus = backend === 'postgres' && process.env.PALISADE_TEST_NATS_URL ? 'nats' : 'in-process';
  describe(`tenant erasure: ${backend}, ${bus} bus`, () => {
    test('a deleted tenant leaves nothing on the bus or in the control plane, and its live connections end at once', async (t) => {
      const p = await startMqttPlatform(backend, {
        ...busFlags(bus),
        // Nothing but the deletion ends the stream: no heartbeat comes in this test.
        telemetryStreamHeartbeatMs: '600000',
      });
      t.after(() => p.close());
      const gone = await p.tenant(`gone-${backend}`);
      const stays = await p.tenant(`stays-${backend}`);
      const goneDevice = await p.device(gone.key, 'meter');
      const staysDevice = await p.device(stays.key, 'meter');
      const cors = await p.call('PUT', '/v1/settings/cors', gone.key, {
        origins: ['https://gone.example'],
      });
      assert.equal(cors.status, 200, JSON.stringify(cors.body));
      const secret = `pulse-${randomBytes(6).toString('hex')}`;

      const device = await mqttClient(p.url, {
        username: goneDevice.token,
        clientId: 'kept-session',
        clean: false,
      });
      await device.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
      await device.publishAsync('v1/devices/me/telemetry', JSON.stringify({ [secret]: 1 }), {
        qos: 1,
      });
      const other = await mqttClient(p.url, { username: staysDevice.token });
      const stream = await liveStream(p, gone.key);
      await eventually(() => busHolds(p, secret), 'the telemetry event is on the bus');
      const before = await rowsOf(p, gone.id);
      assert.ok(before.api_keys! > 0 && before.device_credentials! > 0, JSON.stringify(before));
      assert.ok(before.tenant_cors_origins! > 0, JSON.stringify(before));

      const deviceClosed = closed(device);
      const deleted = await p.call('DELETE', `/v1/platform/tenants/${gone.id}`, ADMIN_TOKEN);
      assert.equal(deleted.status, 204);

      // Live connections ended by the deletion, not by a later message or heartbeat.
      await deviceClosed;
      assert.ok(!(await stream.ended).includes(secret));
      assert.equal(await busHolds(p, secret), false, 'the bus keeps no byte of its telemetry');
      assert.deepEqual(
        Object.values(await rowsOf(p, gone.id)).filter((n) => n > 0),
        [],
        'no control-plane row of the tenant is left',
      );
      const [tombstone] = (await controlPlane(
        p,
        'SELECT slug, name, status FROM tenants WHERE id = $1',
        [gone.id],
      )) as { slug: string; name: string; status: string }[];
      assert.deepEqual({ ...tombstone }, { slug: `gone-${backend}`, name: '', status: 'deleted' });
      const cursors = new DatabaseSync(join(p.fixture.settings.data, 'bus-outbox.db'), {
        readOnly: true,
      });
      const cursor = cursors.prepare('SELECT * FROM published WHERE tenant = ?').get(gone.id);
      cursors.close();
      assert.equal(cursor, undefined, 'the relay keeps no cursor of the tenant');

      // The other tenant's device is still connected and its telemetry still reaches the bus.
      assert.ok(other.connected);
      const still = `still-${randomBytes(6).toString('hex')}`;
      await other.publishAsync('v1/devices/me/telemetry', JSON.stringify({ [still]: 2 }), {
        qos: 1,
      });
      await eventually(() => busHolds(p, still), 'the other tenant is still published');
      await other.endAsync();
      await device.endAsync(true).catch(() => undefined);
    });
  });
}
