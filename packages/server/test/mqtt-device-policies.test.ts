/**
 * A device's MQTT messages and its HTTP device API calls are decided by the Authorizer, with
 * the device as the principal, on the real platform (SQLite and PostgreSQL): a policy on the
 * device's labels or on the connection's peer address refuses its PUBLISH (the connection
 * closes, nothing stored) and its SUBSCRIBE (SUBACK 0x80), and a tenant without policies
 * costs no Cedar evaluation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames } from './support/backends.ts';
import { mqttClient, publishOutcome, subscribeGranted } from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';

const TELEMETRY = 'v1/devices/me/telemetry';
const NOT_DECOMMISSIONED = `permit (principal, action, resource);
forbid (principal is Palisade::Device, action == Palisade::Action::"telemetry:write", resource)
when { principal has labels && principal.labels.contains("decommissioned") };`;
const FROM_RANGE = (range: string) => `permit (principal, action, resource);
forbid (principal is Palisade::Device, action, resource)
unless { context.ip.isInRange(ip("${range}")) };`;

for (const backend of backendNames()) {
  describe(`device acts decided by the tenant's policies over MQTT (${backend})`, () => {
    let p: MqttPlatform;

    const evaluations = async () => {
      const metrics = (await p.call('GET', '/metrics')).body as string;
      const line = metrics
        .split('\n')
        .find((l) => l.startsWith('palisade_cedar_evaluations_total '));
      return Number(line?.split(' ')[1] ?? 0);
    };
    const device = async (key: string, name: string, labels: string[] = []) => {
      const made = await p.call('POST', '/v1/devices', key, { name, labels });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return { id: made.body.id as string, token: made.body.credentials.token as string };
    };
    const publish = async (token: string, value: number) => {
      const client = await mqttClient(p.url, { username: token });
      try {
        return await publishOutcome(client, TELEMETRY, JSON.stringify({ value }));
      } finally {
        await client.endAsync();
      }
    };
    const stored = async (key: string, deviceId: string) => {
      const reply = await p.call(
        'GET',
        `/v1/devices/${deviceId}/telemetry?keys=value&from=0&to=${Date.now() + 600_000}`,
        key,
      );
      assert.equal(reply.status, 200);
      return (reply.body.value ?? []).map((point: { value: unknown }) => point.value);
    };
    const setPolicies = async (key: string, policies: string) => {
      const reply = await p.call('PUT', '/v1/policies', key, { policies });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
    };

    before(async () => {
      p = await startMqttPlatform(backend);
    });
    after(() => p.close());

    it('a tenant without policies publishes and subscribes with no Cedar evaluation', async () => {
      const t = await p.tenant('no-policies');
      const dev = await device(t.key, 'plain', ['decommissioned']);
      for (let i = 0; i < 5; i++) assert.equal(await publish(dev.token, i), 'acknowledged');
      const client = await mqttClient(p.url, { username: dev.token });
      const granted = await subscribeGranted(client, { 'v1/devices/me/rpc/request/+': { qos: 1 } });
      await client.endAsync();
      assert.deepEqual(granted, [{ topic: 'v1/devices/me/rpc/request/+', qos: 1 }]);
      assert.deepEqual(await stored(t.key, dev.id), [0, 1, 2, 3, 4]);
      assert.equal(await evaluations(), 0);
    });

    it('a policy on labels refuses the labelled device, stores nothing of it, lets another publish', async () => {
      const t = await p.tenant('labels');
      const old = await device(t.key, 'old', ['decommissioned']);
      const live = await device(t.key, 'live', ['line-1']);
      await setPolicies(t.key, NOT_DECOMMISSIONED);
      const refusedBefore = await p.refusals('not_authorized', 'PALISADE_FORBIDDEN');

      assert.equal(await publish(old.token, 1), 'refused');
      assert.equal(await publish(live.token, 1), 'acknowledged');
      const afterFirst = await evaluations();
      assert.equal(await publish(live.token, 2), 'acknowledged');
      assert.equal(await evaluations(), afterFirst, 'a repeated act is answered by the cache');

      const client = await mqttClient(p.url, { username: old.token });
      const granted = await subscribeGranted(client, { 'v1/devices/me/rpc/request/+': { qos: 1 } });
      await client.endAsync();
      assert.deepEqual(granted, [{ topic: 'v1/devices/me/rpc/request/+', qos: 128 }]);
      assert.equal(
        await p.refusals('not_authorized', 'PALISADE_FORBIDDEN'),
        refusedBefore + 2,
        'the refused PUBLISH and SUBSCRIBE are counted',
      );

      const http = await p.call('POST', `/api/v1/${old.token}/telemetry`, undefined, { value: 3 });
      assert.equal(http.status, 403);
      assert.equal(http.body.code, 'PALISADE_FORBIDDEN');
      const liveHttp = await p.call('POST', `/api/v1/${live.token}/telemetry`, undefined, {
        value: 3,
      });
      assert.equal(liveHttp.status, 200);

      assert.deepEqual(await stored(t.key, old.id), []);
      assert.deepEqual(await stored(t.key, live.id), [1, 2, 3]);
      const ledger = await p.ledgerResources(t.id);
      assert.equal(ledger.filter((r) => r === `telemetry/${old.id}`).length, 0);
    });

    it('a policy on the peer address decides by the MQTT connection it came from', async () => {
      const t = await p.tenant('address');
      const dev = await device(t.key, 'plant');
      await setPolicies(t.key, FROM_RANGE('127.0.0.0/8'));
      assert.equal(await publish(dev.token, 1), 'acknowledged');
      await setPolicies(t.key, FROM_RANGE('10.20.0.0/16'));
      assert.equal(await publish(dev.token, 2), 'refused');
      assert.deepEqual(await stored(t.key, dev.id), [1]);
    });
  });
}
