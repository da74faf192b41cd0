/**
 * A point older than the tenant's plan keeps telemetry (`telemetryRetention`) is refused at
 * ingest, on every path, as one older than `telemetryMaxPastMs` is: retention would delete it
 * at its next pass. The oldest accepted timestamp is the later of the two limits; an edge
 * message is held to it by the platform's clock whatever its `receivedAt`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { signedBatch, signingNode } from './support/edge-nodes.ts';
import { mqttClient, publishOutcome } from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';

const DAY = 86_400_000;
/** Any plan keeps 30 days, `gold` 60; no point older than 45 days is taken at all. */
const LIMITS = {
  telemetryRetention: ['*=30', 'gold=60'],
  telemetryMaxPastMs: String(45 * DAY),
};
const OUT_OF_RANGE = 'PALISADE_TELEMETRY_TIMESTAMP_OUT_OF_RANGE';

for (const backend of backendNames()) {
  describe(`telemetry older than the plan keeps (${backend})`, () => {
    let api: TestApi;
    let key: string;
    const device = async (token: string, name: string, edgeNodeId?: string) => {
      const made = await api.call('POST', '/v1/devices', token, { name, edgeNodeId });
      return { id: made.body.id as string, token: made.body.credentials?.token as string };
    };
    const stored = async (token: string, id: string) =>
      Object.values(
        (await api.call('GET', `/v1/devices/${id}/telemetry?from=0&to=${Date.now() + 1}`, token))
          .body as Record<string, { ts: number }[]>,
      ).flat().length;

    before(async () => {
      api = await TestApi.start(backend, LIMITS);
      key = (await api.tenant('kept-30')).key;
    });
    after(() => api.close());

    test('REST and the ThingsBoard HTTP API refuse the whole message, naming the setting', async () => {
      const { id, token } = await device(key, 'http');
      for (const [url, credential] of [
        [`/v1/devices/${id}/telemetry`, key],
        [`/api/v1/${token}/telemetry`, undefined],
      ] as const) {
        const reply = await api.call('POST', url, credential, [
          { ts: Date.now() - 29 * DAY, values: { t: 1 } },
          { ts: Date.now() - 31 * DAY, values: { t: 2 } },
        ]);
        assert.equal(reply.status, 400, JSON.stringify(reply.body));
        assert.equal(reply.body.code, OUT_OF_RANGE);
        assert.equal(reply.body.errors[0].path, '/1/ts');
        assert.match(reply.body.errors[0].message, /telemetryRetention/);
      }
      assert.equal(await stored(key, id), 0);
      const kept = await api.call('POST', `/v1/devices/${id}/telemetry`, key, {
        ts: Date.now() - 29 * DAY,
        values: { t: 1 },
      });
      assert.equal(kept.status, 200, JSON.stringify(kept.body));
    });

    test('the later of telemetryMaxPastMs and the plan retention applies', async () => {
      const gold = await api.tenant('kept-60');
      const patched = await api.call('PATCH', `/v1/platform/tenants/${gold.id}`, ADMIN_TOKEN, {
        plan: 'gold',
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const { id } = await device(gold.key, 'gold');
      const send = (days: number) =>
        api.call('POST', `/v1/devices/${id}/telemetry`, gold.key, {
          ts: Date.now() - days * DAY,
          values: { t: days },
        });
      assert.equal((await send(40)).status, 200);
      const refused = await send(50);
      assert.equal(refused.status, 400);
      assert.equal(refused.body.code, OUT_OF_RANGE);
      assert.match(refused.body.errors[0].message, /telemetryMaxPastMs/);
    });

    test('an edge batch refuses such messages by index, by ts or by receivedAt', async () => {
      const node = await signingNode(api, key);
      const { id } = await device(key, 'behind', node.nodeId);
      const now = Date.now();
      const reply = await api.call(
        'POST',
        '/v1/edge/batches',
        node.credential,
        signedBatch(node, 'b-old', [
          { deviceId: id, payload: { ts: now, values: { n: 1 } }, receivedAt: now },
          { deviceId: id, payload: { ts: now - 31 * DAY, values: { n: 2 } }, receivedAt: now },
          { deviceId: id, payload: { n: 3 }, receivedAt: now - 31 * DAY },
          // Within 30 days of when the node received it, but not of now.
          {
            deviceId: id,
            payload: { ts: now - 40 * DAY, values: { n: 4 } },
            receivedAt: now - 20 * DAY,
          },
        ]),
      );
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(reply.body.refused, [
        { index: 1, code: OUT_OF_RANGE },
        { index: 2, code: OUT_OF_RANGE },
        { index: 3, code: OUT_OF_RANGE },
      ]);
      assert.equal(await stored(key, id), 1);
    });
  });

  describe(`MQTT telemetry older than the plan keeps (${backend})`, () => {
    let p: MqttPlatform;
    let t: { id: string; key: string };
    before(async () => {
      p = await startMqttPlatform(backend, LIMITS);
      t = await p.tenant('kept-mqtt');
    });
    after(() => p.close());
    const old = () => [{ ts: Date.now() - 31 * DAY, values: { t: 1 } }];

    test('a device message is refused with the connection, and stores nothing', async () => {
      const dev = await p.device(t.key, 'old');
      const client = await mqttClient(p.url, { username: dev.token });
      const outcome = await publishOutcome(
        client,
        'v1/devices/me/telemetry',
        JSON.stringify(old()),
      );
      assert.equal(outcome, 'refused');
      assert.equal(await p.refusals('invalid_payload', OUT_OF_RANGE), 1);
      const points = await p.call(
        'GET',
        `/v1/devices/${dev.id}/telemetry?from=0&to=${Date.now()}`,
        t.key,
      );
      assert.deepEqual(points.body, {});
    });

    test("a gateway's message for its children is refused whole", async () => {
      const gw = await p.device(t.key, 'gw', true);
      const client = await mqttClient(p.url, { username: gw.token });
      const body = { fresh: [{ ts: Date.now(), values: { t: 1 } }], stale: old() };
      const outcome = await publishOutcome(client, 'v1/gateway/telemetry', JSON.stringify(body));
      assert.equal(outcome, 'refused');
      assert.equal(await p.refusals('invalid_payload', OUT_OF_RANGE), 2);
      // Nothing of it is written, no child created either.
      assert.equal(await p.deviceId(t.key, 'fresh'), undefined);
    });
  });
}
