/**
 * Attributes of a gateway's children over the ThingsBoard gateway API, on the real platform
 * with MQTT.js as the gateway, on SQLite and PostgreSQL: attribute requests on
 * `v1/gateway/attributes/request` answered on `v1/gateway/attributes/response` from the
 * child's client or shared attributes, shared attribute updates pushed on
 * `v1/gateway/attributes` for the children connected in that connection, a request taken only
 * for the gateway's own child (never creating one) and malformed requests refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DeviceIdentity } from '../src/devices/index.ts';
import { backendNames } from './support/backends.ts';
import {
  messageInbox,
  mqttClient,
  publishOutcome,
  subscribeGranted,
} from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';

const REQUEST = 'v1/gateway/attributes/request';
const RESPONSE = 'v1/gateway/attributes/response';
const UPDATES = 'v1/gateway/attributes';

/** A gateway connection subscribed to `filters`, with its inbox. */
async function gatewayOn(url: string, token: string, filters: readonly string[]) {
  const client = await mqttClient(url, { username: token });
  const next = messageInbox(client);
  const granted = await subscribeGranted(
    client,
    Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }])),
  );
  assert.deepEqual(
    granted.map((g) => g.qos),
    filters.map(() => 1),
  );
  return { client, next };
}

const json = (body: unknown) => (typeof body === 'string' ? body : JSON.stringify(body));

for (const backend of backendNames()) {
  describe(`gateway attributes of child devices (${backend})`, () => {
    let p: MqttPlatform;
    let t: { id: string; key: string };

    before(async () => {
      p = await startMqttPlatform(backend);
      t = await p.tenant('gateway-attributes');
    });
    after(() => p.close());

    const deviceId = (name: string) => p.deviceId(t.key, name);
    const setShared = async (id: string, attributes: Record<string, unknown>) => {
      const changed = await p.call('PATCH', `/v1/devices/${id}`, t.key, { attributes });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
    };
    /** The child as the listener knows it, for pushing its shared attributes. */
    const childIdentity = async (gatewayToken: string, name: string): Promise<DeviceIdentity> => {
      const authority = p.platform.devices.authority;
      const gateway = (await authority.byAccessToken(gatewayToken))!;
      return (await authority.findGatewayChild(gateway, name))!;
    };
    const push = (child: DeviceIdentity, attributes: Record<string, unknown>) =>
      p.platform.mqtt!.pushAttributes(child, attributes);

    it("answers a request from the child's client or shared attributes, as ThingsBoard shapes it", async () => {
      const gw = await p.device(t.key, 'gw-request', true);
      const { client, next } = await gatewayOn(p.url, gw.token, [RESPONSE]);
      const reported = { 'meter-1': { fw: '1.2', battery: 87 } };
      assert.equal(await publishOutcome(client, UPDATES, json(reported)), 'acknowledged');
      await setShared((await deviceId('meter-1'))!, { target: '2.0', interval: 60 });

      const asked: Array<[object, object]> = [
        [
          { id: 1, device: 'meter-1', client: true, key: 'fw' },
          { id: 1, device: 'meter-1', value: '1.2' },
        ],
        [
          { id: 2, device: 'meter-1', client: false, key: 'target' },
          { id: 2, device: 'meter-1', value: '2.0' },
        ],
        [
          { id: 3, device: 'meter-1', client: true, keys: ['fw', 'battery', 'absent'] },
          { id: 3, device: 'meter-1', values: { fw: '1.2', battery: 87 } },
        ],
        [
          { id: 4, device: 'meter-1', client: false, keys: ['interval'] },
          { id: 4, device: 'meter-1', values: { interval: 60 } },
        ],
        // The scopes do not mix: a shared key asked as a client one is not found.
        [
          { id: 5, device: 'meter-1', client: true, key: 'target' },
          { id: 5, device: 'meter-1' },
        ],
        [
          { id: 6, device: 'meter-1', client: false, keys: ['fw'] },
          { id: 6, device: 'meter-1', values: {} },
        ],
      ];
      for (const [request, response] of asked) {
        assert.equal(await publishOutcome(client, REQUEST, json(request)), 'acknowledged');
        assert.deepEqual(await next(), [RESPONSE, response], JSON.stringify(request));
      }
      await client.endAsync();

      // A child linked to the gateway but not connected in this connection is answered too.
      const later = await gatewayOn(p.url, gw.token, [RESPONSE]);
      const request = { id: 7, device: 'meter-1', client: false, key: 'interval' };
      assert.equal(await publishOutcome(later.client, REQUEST, json(request)), 'acknowledged');
      assert.deepEqual(await later.next(), [RESPONSE, { id: 7, device: 'meter-1', value: 60 }]);
      await later.client.endAsync();
    });

    it('answers only for its own child, refuses malformed requests, and creates no device', async () => {
      const gw = await p.device(t.key, 'gw-strict', true);
      const own = await gatewayOn(p.url, gw.token, [RESPONSE]);
      const connect = json({ device: 'own-child' });
      assert.equal(await publishOutcome(own.client, 'v1/gateway/connect', connect), 'acknowledged');
      await p.device(t.key, 'plain-device');
      const other = await p.device(t.key, 'gw-other', true);
      const theirs = await mqttClient(p.url, { username: other.token });
      const theirsChild = json({ device: 'their-child' });
      assert.equal(await publishOutcome(theirs, 'v1/gateway/connect', theirsChild), 'acknowledged');
      await theirs.endAsync();

      const before = {
        forbidden: await p.refusals('invalid_payload', 'PALISADE_FORBIDDEN'),
        payload: await p.refusals('invalid_payload', 'none'),
        json: await p.refusals('invalid_json', 'none'),
      };
      const ask = { id: 1, client: false, key: 'k' };
      const refused: Array<[string, unknown]> = [
        ['a device of no gateway', { ...ask, device: 'plain-device' }],
        ["another gateway's child", { ...ask, device: 'their-child' }],
        ['a device that does not exist', { ...ask, device: 'nobody' }],
        ['the gateway itself', { ...ask, device: 'gw-strict' }],
        ['no device', ask],
        ['an empty device name', { ...ask, device: '' }],
        ['no id', { device: 'own-child', client: false, key: 'k' }],
        ['an id that is a string', { ...ask, device: 'own-child', id: '1' }],
        ['a negative id', { ...ask, device: 'own-child', id: -1 }],
        ['a fractional id', { ...ask, device: 'own-child', id: 1.5 }],
        ['no client', { id: 1, device: 'own-child', key: 'k' }],
        ['client not a boolean', { ...ask, device: 'own-child', client: 'true' }],
        ['neither key nor keys', { id: 1, device: 'own-child', client: false }],
        ['both key and keys', { ...ask, device: 'own-child', keys: ['k'] }],
        ['an empty key', { ...ask, device: 'own-child', key: '' }],
        ['keys not an array', { id: 1, device: 'own-child', client: false, keys: 'k' }],
        ['empty keys', { id: 1, device: 'own-child', client: false, keys: [] }],
        ['a key that is no string', { id: 1, device: 'own-child', client: false, keys: [1] }],
        ['not an object', [{ ...ask, device: 'own-child' }]],
        ['not JSON', '{"id": 1, "device": '],
      ];
      for (const [what, body] of refused) {
        const client = await mqttClient(p.url, { username: gw.token });
        assert.equal(await publishOutcome(client, REQUEST, json(body)), 'refused', what);
        assert.equal(client.connected, false, `${what}: the connection is closed`);
      }
      assert.equal(await deviceId('nobody'), undefined, 'a request creates no device');

      // The gateway's own child is still answered, and nothing else reached its connection.
      const request = { id: 9, device: 'own-child', client: true, keys: ['k'] };
      assert.equal(await publishOutcome(own.client, REQUEST, json(request)), 'acknowledged');
      assert.deepEqual(await own.next(), [RESPONSE, { id: 9, device: 'own-child', values: {} }]);
      await own.client.endAsync();

      const counted = {
        forbidden: (await p.refusals('invalid_payload', 'PALISADE_FORBIDDEN')) - before.forbidden,
        payload: (await p.refusals('invalid_payload', 'none')) - before.payload,
        json: (await p.refusals('invalid_json', 'none')) - before.json,
      };
      assert.deepEqual(counted, { forbidden: 4, payload: refused.length - 5, json: 1 });
    });

    it('pushes a connected child’s shared attribute update as {"device", "data"}; not once it is disconnected', async () => {
      const gw = await p.device(t.key, 'gw-push', true);
      const { client, next } = await gatewayOn(p.url, gw.token, [UPDATES]);
      for (const name of ['valve', 'staying'])
        assert.equal(
          await publishOutcome(client, 'v1/gateway/connect', json({ device: name })),
          'acknowledged',
        );
      const valve = await childIdentity(gw.token, 'valve');
      const staying = await childIdentity(gw.token, 'staying');
      assert.equal(await push(valve, { open: true }), 1);
      assert.deepEqual(await next(), [UPDATES, { device: 'valve', data: { open: true } }]);

      const gone = json({ device: 'valve' });
      assert.equal(await publishOutcome(client, 'v1/gateway/disconnect', gone), 'acknowledged');
      assert.equal(await push(valve, { open: false }), 0);
      // The next message the gateway gets is its other child's: nothing came for the valve.
      assert.equal(await push(staying, { marker: 1 }), 1);
      assert.deepEqual(await next(), [UPDATES, { device: 'staying', data: { marker: 1 } }]);

      // Not subscribed (or unsubscribed), a gateway gets nothing; once it ends, nor does it.
      await client.unsubscribeAsync(UPDATES);
      assert.equal(await push(staying, { after: 'unsubscribe' }), 0);
      await client.endAsync();
      assert.equal(await push(staying, { after: 'end' }), 0);
    });

    it('pushes to every connection of the gateway that connected the child, and only those', async () => {
      const gw = await p.device(t.key, 'gw-two-connections', true);
      const first = await gatewayOn(p.url, gw.token, [UPDATES]);
      const second = await gatewayOn(p.url, gw.token, [UPDATES]);
      const third = await gatewayOn(p.url, gw.token, [UPDATES]);
      for (const { client } of [first, second])
        assert.equal(
          await publishOutcome(client, 'v1/gateway/connect', json({ device: 'shared-pump' })),
          'acknowledged',
        );
      // The third names another child only: its inbox proves the pump's update skipped it.
      assert.equal(
        await publishOutcome(third.client, 'v1/gateway/telemetry', json({ marker: [{ m: 1 }] })),
        'acknowledged',
      );
      const pump = await childIdentity(gw.token, 'shared-pump');
      assert.equal(await push(pump, { rpm: 900 }), 2);
      for (const { next } of [first, second])
        assert.deepEqual(await next(), [UPDATES, { device: 'shared-pump', data: { rpm: 900 } }]);
      assert.equal(await push(await childIdentity(gw.token, 'marker'), { m: 2 }), 1);
      assert.deepEqual(await third.next(), [UPDATES, { device: 'marker', data: { m: 2 } }]);
      await Promise.all([first, second, third].map(({ client }) => client.endAsync()));
    });

    it('a device that is not a gateway may use none of these topics; a gateway no wildcard of them', async () => {
      const plain = await p.device(t.key, 'not-a-gateway');
      const client = await mqttClient(p.url, { username: plain.token });
      assert.deepEqual(
        await subscribeGranted(client, { [UPDATES]: { qos: 1 }, [RESPONSE]: { qos: 1 } }),
        [
          { topic: UPDATES, qos: 128 },
          { topic: RESPONSE, qos: 128 },
        ],
      );
      const request = json({ id: 1, device: 'not-a-gateway', client: true, key: 'k' });
      assert.equal(await publishOutcome(client, REQUEST, request), 'refused');
      const gw = await p.device(t.key, 'gw-wildcards-attributes', true);
      const gateway = await mqttClient(p.url, { username: gw.token });
      for (const filter of [
        'v1/gateway/attributes/+',
        'v1/gateway/attributes/#',
        'v1/gateway/attributes/request',
        'v1/gateway/+/response',
        'v1/gateway/attributes/response/+',
      ])
        assert.deepEqual(
          await subscribeGranted(gateway, { [filter]: { qos: 1 } }),
          [{ topic: filter, qos: 128 }],
          filter,
        );
      const answer = json({ id: 1, device: 'x', value: 1 });
      assert.equal(await publishOutcome(gateway, RESPONSE, answer), 'refused');
    });
  });
}
