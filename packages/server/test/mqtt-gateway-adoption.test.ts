/**
 * A device's gateway is the tenant's to set: `gatewayId` on `POST`/`PATCH /v1/devices`
 * links a device to one of the tenant's gateway devices (within `gatewayChildrenMax`) or
 * unlinks it (null), ledgered like any device change. So a replacement gateway can take over
 * the children of one that was deleted or retired. The gateway a child leaves stops speaking
 * for it at once: its telemetry for the child is refused on the connection it already has,
 * and RPC requests to the child reach only the new gateway. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { backendNames } from './support/backends.ts';
import {
  messageInbox,
  mqttClient,
  publishOutcome,
  subscribeGranted,
} from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';

const MAX = 2;
const GATEWAY_RPC = 'v1/gateway/rpc';

function telemetry(client: MqttClient, child: string, rpm: number) {
  return publishOutcome(client, 'v1/gateway/telemetry', JSON.stringify({ [child]: { rpm } }));
}

for (const backend of backendNames()) {
  describe(`a device's gateway is set by the tenant (${backend})`, () => {
    let p: MqttPlatform;
    let t: { id: string; key: string };
    let other: { id: string; key: string };

    before(async () => {
      p = await startMqttPlatform(backend, { gatewayChildrenMax: String(MAX) });
      t = await p.tenant('adoption');
      other = await p.tenant('adoption-other');
    });
    after(() => p.close());

    const patch = (id: string, body: object, key = t.key) =>
      p.call('PATCH', `/v1/devices/${id}`, key, body);
    const latestRpm = async (id: string) =>
      (await p.call('GET', `/v1/devices/${id}/telemetry/latest?keys=rpm`, t.key)).body.rpm?.[0]
        ?.value;

    it('a replacement gateway adopts the children of a deleted one, and the move is ledgered', async () => {
      const old = await p.device(t.key, 'gw-old', true);
      const client = await mqttClient(p.url, { username: old.token });
      assert.equal(await telemetry(client, 'pump', 1), 'acknowledged');
      await client.endAsync();
      const pumpId = (await p.deviceId(t.key, 'pump'))!;
      assert.equal((await p.call('DELETE', `/v1/devices/${old.id}`, t.key)).status, 204);

      const replacement = await p.device(t.key, 'gw-new', true);
      const orphaned = await mqttClient(p.url, { username: replacement.token });
      assert.equal(await telemetry(orphaned, 'pump', 2), 'refused', 'not its child yet');

      const before = (await p.ledgerResources(t.id)).filter((r) => r === `devices/${pumpId}`);
      const moved = await patch(pumpId, { gatewayId: replacement.id });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.equal(moved.body.gatewayId, replacement.id);
      const after = (await p.ledgerResources(t.id)).filter((r) => r === `devices/${pumpId}`);
      assert.equal(after.length, before.length + 1);

      const adopted = await mqttClient(p.url, { username: replacement.token });
      assert.equal(await telemetry(adopted, 'pump', 3), 'acknowledged');
      await adopted.endAsync();
      assert.equal(await latestRpm(pumpId), 3);
    });

    it('the gateway a child leaves stops speaking for it on the connection it holds', async () => {
      const first = await p.device(t.key, 'gw-first', true);
      const second = await p.device(t.key, 'gw-second', true);
      const holding = await mqttClient(p.url, { username: first.token });
      assert.equal(await telemetry(holding, 'fan', 10), 'acknowledged');
      const fanId = (await p.deviceId(t.key, 'fan'))!;

      assert.equal((await patch(fanId, { gatewayId: second.id })).status, 200);
      assert.equal(await telemetry(holding, 'fan', 11), 'refused');
      const taking = await mqttClient(p.url, { username: second.token });
      assert.equal(await telemetry(taking, 'fan', 12), 'acknowledged');
      await taking.endAsync();
      assert.equal(await latestRpm(fanId), 12);

      assert.equal((await patch(fanId, { gatewayId: null })).status, 200, 'unlinked');
      const unlinked = await mqttClient(p.url, { username: second.token });
      assert.equal(await telemetry(unlinked, 'fan', 13), 'refused');
      assert.equal(await latestRpm(fanId), 12);
    });

    it('an RPC request to a moved child reaches only its new gateway', async () => {
      const listen = async (token: string) => {
        const client = await mqttClient(p.url, { username: token });
        const next = messageInbox(client);
        assert.deepEqual(await subscribeGranted(client, { [GATEWAY_RPC]: { qos: 1 } }), [
          { topic: GATEWAY_RPC, qos: 1 },
        ]);
        return { client, next };
      };
      const from = await p.device(t.key, 'gw-rpc-from', true);
      const to = await p.device(t.key, 'gw-rpc-to', true);
      const a = await listen(from.token);
      const connect = JSON.stringify({ device: 'valve' });
      assert.equal(await publishOutcome(a.client, 'v1/gateway/connect', connect), 'acknowledged');
      const valveId = (await p.deviceId(t.key, 'valve'))!;
      assert.equal((await patch(valveId, { gatewayId: to.id })).status, 200);

      const queued = await p.call('POST', `/v1/devices/${valveId}/rpc`, t.key, {
        method: 'open',
        persistent: true,
        timeoutMs: 600_000,
      });
      assert.equal(queued.status, 201, JSON.stringify(queued.body));
      assert.equal(queued.body.status, 'queued', 'the old gateway does not take it');

      const b = await listen(to.token);
      assert.equal(await publishOutcome(b.client, 'v1/gateway/connect', connect), 'acknowledged');
      const [topic, request] = await b.next();
      assert.equal(topic, GATEWAY_RPC);
      assert.deepEqual(request, {
        device: 'valve',
        data: { id: queued.body.id, method: 'open', params: null },
      });
      await a.client.endAsync();
      await b.client.endAsync();
    });

    it('a device is created as a child with gatewayId, counted against gatewayChildrenMax', async () => {
      const gw = await p.device(t.key, 'gw-bounded', true);
      for (let i = 0; i < MAX; i++) {
        const made = await p.call('POST', '/v1/devices', t.key, {
          name: `pre-${i}`,
          gatewayId: gw.id,
        });
        assert.equal(made.status, 201, JSON.stringify(made.body));
        assert.equal(made.body.gatewayId, gw.id);
      }
      const past = await p.call('POST', '/v1/devices', t.key, { name: 'pre-x', gatewayId: gw.id });
      assert.equal(past.status, 409);
      assert.equal(past.body.code, 'PALISADE_GATEWAY_CHILDREN_LIMIT');
      assert.equal(await p.deviceId(t.key, 'pre-x'), undefined);
      const loose = await p.device(t.key, 'loose');
      const moved = await patch(loose.id, { gatewayId: gw.id });
      assert.equal(moved.body.code, 'PALISADE_GATEWAY_CHILDREN_LIMIT');
      assert.equal((await p.call('GET', `/v1/devices/${loose.id}`, t.key)).body.gatewayId, null);
    });

    it('refuses a gateway that is none, missing, the device itself, or for a gateway device', async () => {
      const plain = await p.device(t.key, 'plain');
      const device = await p.device(t.key, 'to-link');
      const gw = await p.device(t.key, 'gw-refusals', true);
      const unknown = '0190a5c8-0000-7000-8000-000000000000';
      for (const gatewayId of [plain.id, unknown, device.id]) {
        const refused = await patch(device.id, { gatewayId });
        assert.equal(refused.status, 404, gatewayId);
        assert.equal(refused.body.code, 'PALISADE_GATEWAY_NOT_FOUND');
      }
      const nested = await patch(gw.id, { gatewayId: (await p.device(t.key, 'gw-2', true)).id });
      assert.equal(nested.status, 400);
      assert.equal(nested.body.errors[0].path, '/body/gatewayId');
      const malformed = await patch(device.id, { gatewayId: 'not-a-uuid' });
      assert.equal(malformed.status, 400);
      assert.equal((await p.call('GET', `/v1/devices/${device.id}`, t.key)).body.version, 1);
    });

    it("another tenant's gateway reads as missing, and its devices are unchanged", async () => {
      const theirs = await p.device(t.key, 'gw-theirs', true);
      const client = await mqttClient(p.url, { username: theirs.token });
      assert.equal(await telemetry(client, 'their-child', 1), 'acknowledged');
      await client.endAsync();
      const mine = await p.device(other.key, 'mine');
      const refused = await patch(mine.id, { gatewayId: theirs.id }, other.key);
      assert.equal(refused.status, 404);
      assert.equal(refused.body.code, 'PALISADE_GATEWAY_NOT_FOUND');
      const created = await p.call('POST', '/v1/devices', other.key, {
        name: 'sneaky',
        gatewayId: theirs.id,
      });
      assert.equal(created.status, 404);
      assert.equal(created.body.code, 'PALISADE_GATEWAY_NOT_FOUND');
      const childId = (await p.deviceId(t.key, 'their-child'))!;
      const across = await patch(childId, { gatewayId: null }, other.key);
      assert.equal(across.status, 404);
      assert.equal(across.body.code, 'PALISADE_DEVICE_NOT_FOUND');
      assert.equal(
        (await p.call('GET', `/v1/devices/${childId}`, t.key)).body.gatewayId,
        theirs.id,
      );
    });
  });
}
