/**
 * A telemetry timestamp is Unix milliseconds from 1970 on, on every ingest path, even when
 * telemetryMaxPastMs reaches back further: queries take `from` >= 0, so a point before the
 * epoch could be stored but never read back. ts 0, the first instant, is stored and read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { signedBatch, signingNode } from './support/edge-nodes.ts';
import { mqttClient, publishOutcome } from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';

/** Far enough back that the setting alone would let a point before 1970 in. */
const REACH = { telemetryMaxPastMs: String(Number.MAX_SAFE_INTEGER) };
/** And a retention that keeps a point of 1970, so that one may be stored (on PostgreSQL, in its partition). */
const KEEP_1970 = { ...REACH, telemetryRetention: ['*=999999'] };
const BEFORE_EPOCH = { ts: -1, values: { t: 1 } };
const OUT_OF_RANGE = 'PALISADE_TELEMETRY_TIMESTAMP_OUT_OF_RANGE';

for (const backend of backendNames()) {
  describe(`telemetry timestamps before 1970 (${backend})`, () => {
    let api: TestApi;
    let key: string;
    let device: { id: string; token: string };
    const stored = async (id: string) =>
      (await api.call('GET', `/v1/devices/${id}/telemetry?from=0&to=${Date.now() + 1}`, key)).body;

    before(async () => {
      api = await TestApi.start(backend, KEEP_1970);
      key = (await api.tenant('epoch')).key;
      const made = await api.call('POST', '/v1/devices', key, { name: 'old' });
      device = { id: made.body.id, token: made.body.credentials.token };
    });
    after(() => api.close());

    test('REST and the ThingsBoard HTTP API refuse them, and store nothing', async () => {
      for (const [url, token] of [
        [`/v1/devices/${device.id}/telemetry`, key],
        [`/api/v1/${device.token}/telemetry`, undefined],
      ] as const) {
        const reply = await api.call('POST', url, token, [
          { ts: 5, values: { t: 0 } },
          BEFORE_EPOCH,
        ]);
        assert.equal(reply.status, 400, JSON.stringify(reply.body));
        assert.equal(reply.body.code, OUT_OF_RANGE);
        assert.equal(reply.body.errors[0].path, '/1/ts');
      }
      assert.deepEqual(await stored(device.id), {});
    });

    test('ts 0 is stored and read back', async () => {
      const reply = await api.call('POST', `/v1/devices/${device.id}/telemetry`, key, {
        ts: 0,
        values: { first: 1 },
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual((await stored(device.id)).first, [{ ts: 0, value: 1 }]);
    });

    test('an edge batch refuses a message with one, by index', async () => {
      const node = await signingNode(api, key);
      const made = await api.call('POST', '/v1/devices', key, {
        name: 'behind',
        edgeNodeId: node.nodeId,
      });
      const id = made.body.id as string;
      const now = Date.now();
      const reply = await api.call(
        'POST',
        '/v1/edge/batches',
        node.credential,
        signedBatch(node, 'b-epoch', [
          { deviceId: id, payload: { ts: now, values: { n: 1 } }, receivedAt: now },
          { deviceId: id, payload: BEFORE_EPOCH, receivedAt: now },
        ]),
      );
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      // (A receivedAt before 1970 fails the batch schema, as it always did.)
      assert.deepEqual(reply.body.refused, [{ index: 1, code: OUT_OF_RANGE }]);
      assert.deepEqual(Object.keys(await stored(id)), ['n']);
    });
  });

  describe(`MQTT telemetry before 1970 (${backend})`, () => {
    let p: MqttPlatform;
    before(async () => {
      p = await startMqttPlatform(backend, REACH);
    });
    after(() => p.close());

    test('is refused with the connection, and stores nothing', async () => {
      const t = await p.tenant('epoch-mqtt');
      const dev = await p.device(t.key, 'old');
      const client = await mqttClient(p.url, { username: dev.token });
      const outcome = await publishOutcome(
        client,
        'v1/devices/me/telemetry',
        JSON.stringify(BEFORE_EPOCH),
      );
      assert.equal(outcome, 'refused');
      const points = await p.call('GET', `/v1/devices/${dev.id}/telemetry?from=0&to=1`, t.key);
      assert.deepEqual(points.body, {});
    });
  });
}
