/**
 * A gateway creates at most `gatewayChildrenMax` children by naming them: one more is
 * refused (connection closed, nothing created), counted in the transaction that inserts the
 * child, so concurrent connections of one gateway cannot pass the bound together. A child
 * past the plan's `quotaDevicesMax` is refused the same way. A child has no credential of
 * its own, and outlives its gateway as a device of no gateway. A message for several children
 * is charged to the plan's telemetry rates whole: admitted or refused as one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames } from './support/backends.ts';
import { closed, mqttClient, publishOutcome } from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';

const MAX = 3;

for (const backend of backendNames()) {
  describe(`gateway children are bounded by gatewayChildrenMax (${backend})`, () => {
    let p: MqttPlatform;
    let t: { id: string; key: string };

    before(async () => {
      p = await startMqttPlatform(backend, { gatewayChildrenMax: String(MAX) });
      t = await p.tenant('gateway-bound');
    });
    after(() => p.close());

    const childrenOf = async (gatewayId: string) => {
      const list = await p.call('GET', '/v1/devices?limit=1000', t.key);
      assert.equal(list.status, 200);
      return (list.body.items as Array<{ name: string; gatewayId: string | null }>)
        .filter((d) => d.gatewayId === gatewayId)
        .map((d) => d.name)
        .sort();
    };

    it('the child past the bound is refused and not created; the others keep working', async () => {
      const gw = await p.device(t.key, 'gw-serial', true);
      const client = await mqttClient(p.url, { username: gw.token });
      for (const name of ['c1', 'c2', 'c3'])
        assert.equal(
          await publishOutcome(client, 'v1/gateway/connect', JSON.stringify({ device: name })),
          'acknowledged',
          name,
        );
      const messages: Array<[string, unknown]> = [
        ['v1/gateway/connect', { device: 'c4' }],
        ['v1/gateway/telemetry', { c4: [{ ts: Date.now(), values: { rpm: 1 } }] }],
        ['v1/gateway/attributes', { c4: { model: 'P' } }],
      ];
      for (const [topic, body] of messages) {
        const again = await mqttClient(p.url, { username: gw.token });
        assert.equal(await publishOutcome(again, topic, JSON.stringify(body)), 'refused', topic);
      }
      assert.deepEqual(await childrenOf(gw.id), ['c1', 'c2', 'c3']);

      const telemetry = { c1: { rpm: 10 }, c3: { rpm: 30 } };
      assert.equal(
        await publishOutcome(client, 'v1/gateway/telemetry', JSON.stringify(telemetry)),
        'acknowledged',
      );
      await client.endAsync();
      const fresh = await mqttClient(p.url, { username: gw.token });
      assert.equal(
        await publishOutcome(fresh, 'v1/gateway/telemetry', JSON.stringify({ c2: { rpm: 20 } })),
        'acknowledged',
        'a new connection names an existing child without creating one',
      );
      await fresh.endAsync();
      const list = await p.call('GET', '/v1/devices?limit=1000', t.key);
      for (const [name, rpm] of [
        ['c1', 10],
        ['c2', 20],
        ['c3', 30],
      ] as const) {
        const id = list.body.items.find((d: { name: string }) => d.name === name).id;
        const latest = await p.call('GET', `/v1/devices/${id}/telemetry/latest?keys=rpm`, t.key);
        assert.equal(latest.body.rpm[0].value, rpm, name);
      }
      const metrics = (await p.call('GET', '/metrics')).body as string;
      assert.match(
        metrics,
        /palisade_mqtt_refusals_total\{reason="gateway_children_limit",code="PALISADE_GATEWAY_CHILDREN_LIMIT"\} 3/,
      );
    });

    it('a message naming more new children than fit creates none of them, nor writes a point', async () => {
      const gw = await p.device(t.key, 'gw-two-new', true);
      const client = await mqttClient(p.url, { username: gw.token });
      const first = { a1: { rpm: 1 }, a2: { rpm: 2 } };
      assert.equal(
        await publishOutcome(client, 'v1/gateway/telemetry', JSON.stringify(first)),
        'acknowledged',
      );
      // Room for one more child: a message naming two new ones, the first of which would fit.
      for (const [topic, body] of [
        ['v1/gateway/telemetry', { a1: { rpm: 10 }, n1: { rpm: 11 }, n2: { rpm: 12 } }],
        ['v1/gateway/attributes', { a1: { model: 'Q' }, n1: { model: 'Q' }, n2: { model: 'Q' } }],
      ] as const) {
        const again = await mqttClient(p.url, { username: gw.token });
        assert.equal(await publishOutcome(again, topic, JSON.stringify(body)), 'refused', topic);
      }
      assert.deepEqual(await childrenOf(gw.id), ['a1', 'a2']);
      const list = await p.call('GET', '/v1/devices?limit=1000', t.key);
      const a1 = list.body.items.find((d: { name: string }) => d.name === 'a1');
      const latest = await p.call('GET', `/v1/devices/${a1.id}/telemetry/latest?keys=rpm`, t.key);
      assert.equal(latest.body.rpm[0].value, 1, 'the refused message wrote no point');
      const device = await p.call('GET', `/v1/devices/${a1.id}`, t.key);
      assert.deepEqual(device.body.clientAttributes, {}, 'nor an attribute');
      await client.endAsync();
    });

    /** A gateway that connected one child and sent it a point; the child as the API shows it. */
    const gatewayWithChild = async (gatewayName: string, childName: string) => {
      const gw = await p.device(t.key, gatewayName, true);
      const client = await mqttClient(p.url, { username: gw.token });
      const telemetry = { [childName]: { rpm: 7 } };
      assert.equal(
        await publishOutcome(client, 'v1/gateway/telemetry', JSON.stringify(telemetry)),
        'acknowledged',
      );
      await client.endAsync();
      const list = await p.call('GET', '/v1/devices?limit=1000', t.key);
      const child = list.body.items.find((d: { name: string }) => d.name === childName);
      assert.equal(child.gatewayId, gw.id);
      return { gw, child: child as { id: string; gatewayId: string | null } };
    };

    it('a child is reached only through its gateway: it gets no credential of its own', async () => {
      const { child } = await gatewayWithChild('gw-no-child-token', 'tokenless');
      const credentials = await p.call('GET', `/v1/devices/${child.id}/credentials`, t.key);
      assert.equal(credentials.status, 200);
      assert.deepEqual(credentials.body, []);
      const resources = await p.ledgerResources(t.id);
      assert.ok(!resources.some((r) => r.startsWith(`devices/${child.id}/credentials/`)));
    });

    it('deleting a gateway unlinks its children: they stay, with their data, and the change is ledgered', async () => {
      const { gw, child } = await gatewayWithChild('gw-deleted', 'survivor');
      const entries = async () =>
        (await p.ledgerResources(t.id)).filter((r) => r === `devices/${child.id}`).length;
      const before = await entries();
      assert.equal((await p.call('DELETE', `/v1/devices/${gw.id}`, t.key)).status, 204);
      const after = await p.call('GET', `/v1/devices/${child.id}`, t.key);
      assert.equal(after.status, 200);
      assert.equal(after.body.gatewayId, null);
      assert.equal(after.body.version, 2);
      assert.equal(await entries(), before + 1);
      const latest = await p.call(
        'GET',
        `/v1/devices/${child.id}/telemetry/latest?keys=rpm`,
        t.key,
      );
      assert.equal(latest.body.rpm[0].value, 7);
    });

    it('concurrent connects from two connections of one gateway never pass the bound', async () => {
      const gw = await p.device(t.key, 'gw-concurrent', true);
      const clients = await Promise.all([
        mqttClient(p.url, { username: gw.token }),
        mqttClient(p.url, { username: gw.token }),
      ]);
      const sent = Promise.allSettled(
        clients.flatMap((client, c) =>
          Array.from({ length: 10 }, (_, i) =>
            client.publishAsync('v1/gateway/connect', JSON.stringify({ device: `k${c}-${i}` }), {
              qos: 1,
            }),
          ),
        ),
      );
      // Each connection names more new children than the bound, so each should be closed.
      await Promise.race([sent, Promise.all(clients.map(closed))]);
      for (const client of clients) client.end(true); // MQTT.js fails pending publishes only now
      await sent;
      // A refusal means the bound was reached, and no later creation can pass it.
      assert.equal((await childrenOf(gw.id)).length, MAX);
    });
  });
}

for (const backend of backendNames()) {
  describe(`gateway children are bounded by the plan's devicesMax (${backend})`, () => {
    /** The gateway itself and two children: a third child would be one device too many. */
    const DEVICES_MAX = 3;
    let p: MqttPlatform;

    before(async () => {
      p = await startMqttPlatform(backend, { quotaDevicesMax: [`*=${DEVICES_MAX}`] });
    });
    after(() => p.close());

    it('the child past the cap is refused like one past gatewayChildrenMax and not created', async () => {
      const t = await p.tenant('gateway-capped');
      const gw = await p.device(t.key, 'gw', true);
      const client = await mqttClient(p.url, { username: gw.token });
      for (const name of ['c1', 'c2'])
        assert.equal(
          await publishOutcome(client, 'v1/gateway/connect', JSON.stringify({ device: name })),
          'acknowledged',
          name,
        );
      const ledger = await p.ledgerResources(t.id);
      const messages: Array<[string, unknown]> = [
        ['v1/gateway/connect', { device: 'c3' }],
        ['v1/gateway/telemetry', { c3: [{ ts: Date.now(), values: { rpm: 1 } }] }],
        ['v1/gateway/attributes', { c3: { model: 'P' } }],
      ];
      for (const [topic, body] of messages) {
        const again = await mqttClient(p.url, { username: gw.token });
        assert.equal(await publishOutcome(again, topic, JSON.stringify(body)), 'refused', topic);
      }
      const list = await p.call('GET', '/v1/devices?limit=1000', t.key);
      assert.deepEqual(list.body.items.map((d: { name: string }) => d.name).sort(), [
        'c1',
        'c2',
        'gw',
      ]);
      assert.deepEqual(await p.ledgerResources(t.id), ledger, 'nothing ledgered for c3');
      assert.equal(
        await publishOutcome(client, 'v1/gateway/telemetry', JSON.stringify({ c1: { rpm: 10 } })),
        'acknowledged',
        'the existing children keep working',
      );
      await client.endAsync();

      const metrics = (await p.call('GET', '/metrics')).body as string;
      assert.match(
        metrics,
        /palisade_mqtt_refusals_total\{reason="plan_limit_reached",code="PALISADE_PLAN_LIMIT_REACHED"\} 3/,
      );
      assert.match(metrics, /palisade_plan_limit_refusals_total\{kind="devices"\} 3/);
    });
  });
}

for (const backend of backendNames()) {
  describe(`a gateway message is charged to the plan's telemetry rates whole (${backend})`, () => {
    let p: MqttPlatform;

    before(async () => {
      // One point per second, a one-second burst: a full bucket admits one message of any
      // size, then is in debt for as many seconds as it had points (see quotas-api.test.ts).
      p = await startMqttPlatform(backend, {
        quotaTenantPointsPerSecond: ['*=1'],
        quotaBurstSeconds: '1',
      });
    });
    after(() => p.close());

    it('a full bucket admits a message for several children; a refused one charges none of them', async () => {
      const t = await p.tenant('gateway-quota');
      const gw = await p.device(t.key, 'gw', true);
      const client = await mqttClient(p.url, { username: gw.token });
      const values = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
      assert.equal(
        await publishOutcome(
          client,
          'v1/gateway/telemetry',
          JSON.stringify({ c1: values, c2: { rpm: 2 } }),
        ),
        'acknowledged',
        'one message, as a device sending 101 points in one message is',
      );
      const again = await mqttClient(p.url, { username: gw.token });
      const refused = JSON.stringify({ c1: { rpm: 3 }, c2: { rpm: 4 }, c3: { rpm: 5 } });
      assert.equal(await publishOutcome(again, 'v1/gateway/telemetry', refused), 'refused');
      assert.equal(await p.refusals('quota_exceeded', 'PALISADE_QUOTA_EXCEEDED'), 1);
      const usage = await p.call('GET', '/v1/usage', t.key);
      assert.deepEqual(
        [usage.body.messages.accepted, usage.body.points.accepted],
        [2, 101],
        'a message per child',
      );
      assert.deepEqual([usage.body.messages.refused, usage.body.points.refused], [3, 3]);
      assert.equal(await p.deviceId(t.key, 'c3'), undefined, 'the refused message made no child');
      await client.endAsync();
    });

    it('a message tried again after another connection stored its new child first is charged once', async () => {
      const t = await p.tenant('gateway-race');
      const gw = await p.device(t.key, 'gw', true);
      const { authority, telemetry } = p.platform.devices;
      const gateway = (await authority.byAccessToken(gw.token))!;
      // Another connection of the gateway stores c1 after this message looked it up.
      await authority.gatewayChild(gateway, 'c1');
      let lookups = 0;
      const values = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
      const written = await telemetry.children(gateway, 'telemetry', [
        {
          find: async () =>
            lookups++ === 0 ? undefined : authority.existingGatewayChild(gateway, 'c1'),
          prepare: () => authority.newGatewayChild(gateway, 'c1'),
          created: () => undefined,
          payload: values,
        },
      ]);
      assert.deepEqual(written, { points: 100 });
      assert.equal(lookups, 2, 'its first try found the name taken');
      // The full bucket admitted the first try and was left 99 points in debt: charged again,
      // the second try would have been refused.
      const usage = await p.call('GET', '/v1/usage', t.key);
      assert.deepEqual([usage.body.messages.accepted, usage.body.points.accepted], [1, 100]);
      assert.deepEqual([usage.body.messages.refused, usage.body.points.refused], [0, 0]);
    });
  });
}
