/**
 * A change of a device's shared attributes through the API reaches the device over MQTT as
 * ThingsBoard pushes it, on the real platform with MQTT.js as the device, on SQLite and
 * PostgreSQL: the changed keys on `v1/devices/me/attributes`, `{"deleted": [...]}` for keys
 * removed, nothing when nothing changed, the same to a gateway for a child it connected (on
 * `v1/gateway/attributes`), never to another tenant's device; and with the API and the MQTT
 * listener in separate processes (PostgreSQL and NATS), through the internal channel.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startPlatform } from '../src/index.ts';
import { ADMIN_TOKEN } from './support/api.ts';
import { backendNames, scaleOutConfigured } from './support/backends.ts';
import { busFlags, deleteNatsStream } from './support/buses.ts';
import {
  messageInbox,
  mqttClient,
  publishOutcome,
  subscribeGranted,
} from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';

const ATTRIBUTES = 'v1/devices/me/attributes';
const GATEWAY_ATTRIBUTES = 'v1/gateway/attributes';

/** A device connection subscribed to `topic`, with its inbox. */
async function listening(url: string, token: string, topic: string) {
  const client = await mqttClient(url, { username: token });
  const next = messageInbox(client);
  const granted = await subscribeGranted(client, { [topic]: { qos: 1 } });
  assert.deepEqual(
    granted.map((g) => g.qos),
    [1],
  );
  return { client, next };
}

for (const backend of backendNames()) {
  describe(`shared attributes pushed to devices (${backend})`, () => {
    let p: MqttPlatform;
    let a: { id: string; key: string };
    let b: { id: string; key: string };

    before(async () => {
      p = await startMqttPlatform(backend);
      a = await p.tenant('attributes-a');
      b = await p.tenant('attributes-b');
    });
    after(() => p.close());

    const setShared = async (key: string, id: string, attributes: Record<string, unknown>) => {
      const changed = await p.call('PATCH', `/v1/devices/${id}`, key, { attributes });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
    };

    it('pushes the changed keys, then the deleted ones, and nothing for no change', async () => {
      const meter = await p.device(a.key, 'meter');
      const { client, next } = await listening(p.url, meter.token, ATTRIBUTES);
      try {
        await setShared(a.key, meter.id, { target: 20, mode: 'eco' });
        assert.deepEqual(await next(), [ATTRIBUTES, { target: 20, mode: 'eco' }]);
        await setShared(a.key, meter.id, { target: 21, mode: 'eco' });
        assert.deepEqual(await next(), [ATTRIBUTES, { target: 21 }]);
        await setShared(a.key, meter.id, { target: 21, mode: 'eco' });
        await setShared(a.key, meter.id, { target: 21 });
        // The unchanged write sent nothing: the next message is the deletion.
        assert.deepEqual(await next(), [ATTRIBUTES, { deleted: ['mode'] }]);
        const renamed = await p.call('PATCH', `/v1/devices/${meter.id}`, a.key, { type: 'heater' });
        assert.equal(renamed.status, 200);
        await setShared(a.key, meter.id, { target: 22 });
        assert.deepEqual(
          await next(),
          [ATTRIBUTES, { target: 22 }],
          'a change of type pushes nothing',
        );
      } finally {
        await client.endAsync();
      }
    });

    it("pushes a child's change to the gateway that connected it", async () => {
      const gateway = await p.device(a.key, 'gw', true);
      const { client, next } = await listening(p.url, gateway.token, GATEWAY_ATTRIBUTES);
      try {
        const connect = JSON.stringify({ device: 'valve' });
        assert.equal(await publishOutcome(client, 'v1/gateway/connect', connect), 'acknowledged');
        const valve = (await p.deviceId(a.key, 'valve'))!;
        await setShared(a.key, valve, { open: true });
        assert.deepEqual(await next(), [
          GATEWAY_ATTRIBUTES,
          { device: 'valve', data: { open: true } },
        ]);
      } finally {
        await client.endAsync();
      }
    });

    it("never pushes to another tenant's device, whatever its name", async () => {
      const mine = await p.device(a.key, 'twin');
      const theirs = await p.device(b.key, 'twin');
      const other = await listening(p.url, theirs.token, ATTRIBUTES);
      const own = await listening(p.url, mine.token, ATTRIBUTES);
      try {
        await setShared(a.key, mine.id, { secret: 'A' });
        assert.deepEqual(await own.next(), [ATTRIBUTES, { secret: 'A' }]);
        await setShared(b.key, theirs.id, { mark: 'B' });
        // B's first message is its own change: A's never reached it.
        assert.deepEqual(await other.next(), [ATTRIBUTES, { mark: 'B' }]);
      } finally {
        await Promise.all([own.client.endAsync(), other.client.endAsync()]);
      }
    });
  });
}

describe('shared attributes pushed across processes (postgres, NATS)', {
  skip: !scaleOutConfigured(),
}, () => {
  it('an api process changes them; the ingest process holding the device pushes them', async (t) => {
    const flags = busFlags('nats');
    // This process serves the API only; the other one holds the MQTT connections.
    const p = await startMqttPlatform('postgres', flags);
    t.after(async () => {
      await p.close();
      await deleteNatsStream(flags.busPrefix!);
    });
    const ingest = await startPlatform({
      ...p.fixture.settings,
      adminToken: ADMIN_TOKEN,
      role: ['ingest'],
      mqtt: '127.0.0.1:0',
    });
    t.after(() => ingest.close());
    const tenant = await p.tenant('attributes-scale-out');
    const meter = await p.device(tenant.key, 'meter');
    const { client, next } = await listening(ingest.mqtt!.url, meter.token, ATTRIBUTES);
    t.after(() => client.endAsync());
    const changed = await p.call('PATCH', `/v1/devices/${meter.id}`, tenant.key, {
      attributes: { target: 7 },
    });
    assert.equal(changed.status, 200);
    assert.deepEqual(await next(), [ATTRIBUTES, { target: 7 }]);
  });
});
