/**
 * MQTT against the real platform on SQLite and PostgreSQL: ThingsBoard payloads from
 * mosquitto_pub land as typed points with one ledger entry each, attribute requests and
 * server-side RPC round-trip through the RPC queue, gateways publish for children, and bad
 * input (malformed packets, oversized payloads, invalid JSON, wrong types, out-of-range
 * timestamps) is refused with the connection closed, nothing half-written, the server up.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_TOKEN } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import {
  cliAddress,
  closed,
  connectPacket,
  mqttClient,
  publishOutcome,
  rawSocket,
  readUntilClosed,
  remainingLength,
  runCli,
  startSub,
} from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';

const TELEMETRY = 'v1/devices/me/telemetry';

for (const backend of backendNames()) {
  describe(`MQTT on the platform (${backend})`, () => {
    let p: MqttPlatform;
    let t: { id: string; key: string };
    let dev: { id: string; token: string };
    const telemetryEntries = async (deviceId: string) =>
      (await p.ledgerResources(t.id)).filter((r) => r === `telemetry/${deviceId}`).length;

    before(async () => {
      p = await startMqttPlatform(backend);
      t = await p.tenant('mqtt');
      dev = await p.device(t.key, 'sensor');
    });
    after(() => p.close());

    it('mosquitto_pub: every ThingsBoard shape lands as typed points, one ledger entry per message', async () => {
      const ts = Date.now() - 60_000;
      const shapes = [
        { temperature: 21.5, on: true, mode: 'eco', cfg: { a: [1, 2] } },
        { ts, values: { temperature: 20 } },
        [{ ts: ts - 1000, values: { temperature: 19 } }, { humidity: 40 }],
      ];
      for (const shape of shapes) {
        const result = await runCli('mosquitto_pub', [
          ...cliAddress(p.url),
          '-u',
          dev.token,
          '-q',
          '1',
          '-t',
          TELEMETRY,
          '-m',
          JSON.stringify(shape),
        ]);
        assert.equal(result.code, 0, result.stderr);
      }
      const points = await p.call(
        'GET',
        `/v1/devices/${dev.id}/telemetry?from=${ts - 5000}&to=${Date.now() + 600_000}`,
        t.key,
      );
      assert.equal(points.status, 200);
      const values = (key: string) => points.body[key].map((x: { value: unknown }) => x.value);
      assert.deepEqual(values('temperature'), [19, 20, 21.5]);
      assert.deepEqual(values('on'), [true]);
      assert.deepEqual(values('mode'), ['eco']);
      assert.deepEqual(values('cfg'), [{ a: [1, 2] }]);
      assert.deepEqual(values('humidity'), [40]);
      assert.equal(await telemetryEntries(dev.id), 3);
    });

    it('attributes, attribute requests and server-side RPC through the RPC queue', async () => {
      const client = await mqttClient(p.url, { username: dev.token });
      await client.publishAsync('v1/devices/me/attributes', JSON.stringify({ fw: '1.2' }), {
        qos: 1,
      });
      await client.subscribeAsync(
        ['v1/devices/me/attributes/response/+', 'v1/devices/me/rpc/request/+'],
        { qos: 1 },
      );
      const inbox: Array<[string, unknown]> = [];
      const next = () =>
        new Promise<[string, unknown]>((resolve) =>
          client.once('message', (topic, payload) => resolve([topic, JSON.parse(String(payload))])),
        );
      let message = next();
      await client.publishAsync(
        'v1/devices/me/attributes/request/1',
        JSON.stringify({ clientKeys: 'fw' }),
        { qos: 1 },
      );
      inbox.push(await message);
      assert.deepEqual(inbox[0], [
        'v1/devices/me/attributes/response/1',
        { client: { fw: '1.2' } },
      ]);
      message = next();
      const rpc = p.call('POST', `/v1/devices/${dev.id}/rpc`, t.key, {
        method: 'setGpio',
        params: { pin: 4 },
        timeoutMs: 60_000,
      });
      const [topic, body] = await message;
      assert.deepEqual(body, { method: 'setGpio', params: { pin: 4 } });
      const requestId = topic.split('/').at(-1)!;
      await client.publishAsync(
        `v1/devices/me/rpc/response/${requestId}`,
        JSON.stringify({ done: true }),
        { qos: 1 },
      );
      const answered = await rpc;
      assert.equal(answered.body.status, 'succeeded', JSON.stringify(answered.body));
      assert.deepEqual(answered.body.response, { done: true });
      await client.endAsync();
    });

    it('an answer to an RPC request that is not pending is acknowledged and dropped, the connection kept', async () => {
      const client = await mqttClient(p.url, { username: dev.token });
      await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
      const delivered = new Promise<string>((resolve) =>
        client.once('message', (topic) => resolve(topic.split('/').at(-1)!)),
      );
      const rpc = p.call('POST', `/v1/devices/${dev.id}/rpc`, t.key, {
        method: 'reboot',
        timeoutMs: 60_000,
      });
      const requestId = await delivered;
      const answer = (id: string, body: unknown) =>
        publishOutcome(client, `v1/devices/me/rpc/response/${id}`, JSON.stringify(body));
      assert.equal(await answer(requestId, { first: true }), 'acknowledged');
      assert.equal((await rpc).body.status, 'succeeded');
      const stale: Array<[string, string]> = [
        [requestId, 'PALISADE_RPC_NOT_PENDING'],
        ['0190c7d4-0000-7000-8000-000000000000', 'PALISADE_RPC_NOT_FOUND'],
        ['7', 'PALISADE_RPC_NOT_FOUND'],
      ];
      for (const [id] of stale) assert.equal(await answer(id, { again: true }), 'acknowledged');
      assert.equal(client.connected, true);
      assert.equal(
        await publishOutcome(client, TELEMETRY, JSON.stringify({ after: 1 })),
        'acknowledged',
      );
      await client.endAsync();
      const stored = await p.call('GET', `/v1/devices/${dev.id}/rpc/${requestId}`, t.key);
      assert.deepEqual(stored.body.response, { first: true }, 'the first answer stands');
      const metrics = (await p.call('GET', '/metrics')).body as string;
      for (const [, code] of stale)
        assert.match(
          metrics,
          new RegExp(`palisade_mqtt_refusals_total\\{reason="rpc_not_pending",code="${code}"\\}`),
        );
    });

    it('a persistent RPC queued while offline reaches mosquitto_sub when it subscribes', async () => {
      const queued = await p.call('POST', `/v1/devices/${dev.id}/rpc`, t.key, {
        method: 'reboot',
        persistent: true,
        timeoutMs: 600_000,
      });
      assert.ok(queued.status < 300, JSON.stringify(queued.body));
      const sub = await startSub(p.url, [
        '-u',
        dev.token,
        '-q',
        '1',
        '-t',
        'v1/devices/me/rpc/request/+',
        '-C',
        '1',
      ]);
      assert.equal((await sub.finished()).code, 0);
      assert.equal(sub.messages.length, 1);
      assert.match(
        sub.messages[0]!,
        /^v1\/devices\/me\/rpc\/request\/[0-9a-f-]{36} \{"method":"reboot"/,
      );
    });

    it('a gateway creates its children on first use and publishes for them', async () => {
      const gw = await p.device(t.key, 'gateway', true);
      const client = await mqttClient(p.url, { username: gw.token });
      await client.publishAsync('v1/gateway/connect', JSON.stringify({ device: 'Pump 1' }), {
        qos: 1,
      });
      await client.publishAsync(
        'v1/gateway/telemetry',
        JSON.stringify({ 'Pump 1': [{ ts: Date.now(), values: { rpm: 900 } }] }),
        { qos: 1 },
      );
      await client.endAsync();
      const list = await p.call('GET', '/v1/devices?limit=100', t.key);
      const pump = (list.body.items ?? list.body).find(
        (d: { name: string }) => d.name === 'Pump 1',
      );
      assert.ok(pump, 'the child device exists');
      const latest = await p.call('GET', `/v1/devices/${pump.id}/telemetry/latest?keys=rpm`, t.key);
      assert.equal(latest.body.rpm[0].value, 900);
    });

    it('a gateway may not create a child whose name the device API refuses', async () => {
      const gw = await p.device(t.key, 'gateway-long-name', true);
      const name = 'n'.repeat(256);
      const bodies: Array<[string, unknown]> = [
        ['v1/gateway/connect', { device: name }],
        ['v1/gateway/telemetry', { [name]: [{ ts: Date.now(), values: { rpm: 1 } }] }],
      ];
      for (const [topic, body] of bodies) {
        const client = await mqttClient(p.url, { username: gw.token });
        assert.equal(await publishOutcome(client, topic, JSON.stringify(body)), 'refused', topic);
      }
      const list = await p.call('GET', '/v1/devices?limit=1000', t.key);
      const names = (list.body.items ?? list.body).map((d: { name: string }) => d.name);
      assert.ok(!names.includes(name), 'no device was created');
    });

    it('a gateway message naming a child it may not have creates none of the new ones beside it', async () => {
      const gw = await p.device(t.key, 'gateway-bad-name', true);
      const bodies: Array<[string, unknown]> = [
        ['v1/gateway/telemetry', { 'fresh-t1': { rpm: 1 }, ['n'.repeat(256)]: { rpm: 1 } }],
        ['v1/gateway/attributes', { 'fresh-a1': { model: 'P' }, ['n'.repeat(256)]: { m: 1 } }],
        // 'sensor' is a device of the tenant, but no child of this gateway.
        ['v1/gateway/telemetry', { 'fresh-t2': { rpm: 1 }, sensor: { rpm: 1 } }],
      ];
      for (const [topic, body] of bodies) {
        const client = await mqttClient(p.url, { username: gw.token });
        assert.equal(await publishOutcome(client, topic, JSON.stringify(body)), 'refused', topic);
      }
      const list = await p.call('GET', '/v1/devices?limit=1000', t.key);
      const names = (list.body.items ?? list.body).map((d: { name: string }) => d.name);
      assert.deepEqual(
        names.filter((n: string) => n.startsWith('fresh')),
        [],
        'no child was created',
      );
    });

    it('a gateway message refused for its payload creates none of the children it names', async () => {
      const gw = await p.device(t.key, 'gateway-bad-payload', true);
      const bodies: Array<[string, unknown]> = [
        ['v1/gateway/telemetry', { 'ghost-t': 'not telemetry' }],
        ['v1/gateway/attributes', { 'ghost-a': ['not', 'attributes'] }],
      ];
      for (const [topic, body] of bodies) {
        const client = await mqttClient(p.url, { username: gw.token });
        assert.equal(await publishOutcome(client, topic, JSON.stringify(body)), 'refused', topic);
      }
      const list = await p.call('GET', '/v1/devices?limit=1000', t.key);
      const names = (list.body.items ?? list.body).map((d: { name: string }) => d.name);
      assert.deepEqual(
        names.filter((n: string) => n.startsWith('ghost')),
        [],
        'no child was created',
      );
    });

    describe('a connected device is cut off when its credential or tenant stops', () => {
      const stopped = async (
        stop: (tenant: { id: string; key: string }, device: { id: string }) => Promise<void>,
      ) => {
        const tenant = await p.tenant(`cut-${Math.random().toString(36).slice(2, 8)}`);
        const device = await p.device(tenant.key, 'sensor');
        const client = await mqttClient(p.url, { username: device.token });
        assert.equal(
          await publishOutcome(client, TELEMETRY, JSON.stringify({ t: 1 })),
          'acknowledged',
        );
        await stop(tenant, device);
        return {
          tenant,
          device,
          outcome: await publishOutcome(client, TELEMETRY, JSON.stringify({ t: 2 })),
        };
      };

      it('its access token deleted: the next PUBLISH is refused, nothing stored', async () => {
        const { tenant, device, outcome } = await stopped(async (tenant, device) => {
          const listed = await p.call('GET', `/v1/devices/${device.id}/credentials`, tenant.key);
          const id = (listed.body.items ?? listed.body)[0].id;
          const deleted = await p.call(
            'DELETE',
            `/v1/devices/${device.id}/credentials/${id}`,
            tenant.key,
          );
          assert.equal(deleted.status, 204);
        });
        assert.equal(outcome, 'refused');
        assert.equal(
          (await p.ledgerResources(tenant.id)).filter((r) => r === `telemetry/${device.id}`).length,
          1,
        );
      });

      it('its tenant suspended: the next PUBLISH is refused, nothing stored', async () => {
        const { tenant, device, outcome } = await stopped(async (tenant) => {
          const suspended = await p.call(
            'PATCH',
            `/v1/platform/tenants/${tenant.id}`,
            ADMIN_TOKEN,
            {
              status: 'suspended',
            },
          );
          assert.equal(suspended.status, 200);
        });
        assert.equal(outcome, 'refused');
        assert.equal(
          (await p.ledgerResources(tenant.id)).filter((r) => r === `telemetry/${device.id}`).length,
          1,
        );
      });

      it('its tenant deleted: the next PUBLISH is refused, and no tenant file comes back', async () => {
        const { tenant, outcome } = await stopped(async (tenant) => {
          const deleted = await p.call('DELETE', `/v1/platform/tenants/${tenant.id}`, ADMIN_TOKEN);
          assert.equal(deleted.status, 204);
        });
        assert.equal(outcome, 'refused');
        if (backend === 'sqlite') {
          const row = await p.platform.stores.controlPlane.getTenant(tenant.id);
          const folder = p.platform.stores.shards.get(row!.shard)!.location;
          assert.equal(existsSync(join(folder, `${tenant.id}.db`)), false);
        }
      });

      it('its access token deleted: a subscribed connection gets no RPC request, which stays queued', async () => {
        const tenant = await p.tenant(`cut-${Math.random().toString(36).slice(2, 8)}`);
        const device = await p.device(tenant.key, 'sensor');
        const client = await mqttClient(p.url, { username: device.token });
        await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
        const received: string[] = [];
        client.on('message', (topic) => received.push(topic));
        const listed = await p.call('GET', `/v1/devices/${device.id}/credentials`, tenant.key);
        const id = (listed.body.items ?? listed.body)[0].id;
        await p.call('DELETE', `/v1/devices/${device.id}/credentials/${id}`, tenant.key);
        const rpc = await p.call('POST', `/v1/devices/${device.id}/rpc`, tenant.key, {
          method: 'unlock',
          persistent: true,
          timeoutMs: 60_000,
        });
        assert.ok(rpc.status < 300, JSON.stringify(rpc.body));
        await closed(client);
        assert.deepEqual(received, []);
        const row = await p.call('GET', `/v1/devices/${device.id}/rpc/${rpc.body.id}`, tenant.key);
        assert.equal(row.body.status, 'queued');
      });
    });

    describe('bad input is refused, nothing half-written, the server stays up', () => {
      const refusedCases: Array<[string, string | Buffer]> = [
        ['invalid JSON', '{"temperature": '],
        ['not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
        ['a JSON string', '"hot"'],
        ['wrong types', JSON.stringify({ ts: 'yesterday', values: 5 })],
        [
          'a timestamp far in the future',
          JSON.stringify({ ts: Date.now() + 10 * 365 * 86_400_000, values: { t: 1 } }),
        ],
        ['a timestamp before the epoch', JSON.stringify({ ts: -1, values: { t: 1 } })],
        ['an empty key', JSON.stringify({ '': 1 })],
        ['U+0000 in a string value', JSON.stringify({ t: 'a\u0000b' })],
        ['a number beyond a double, inside a JSON value', '{"j":{"x":1e400}}'],
        ['a lone surrogate escape', '{"s":"\\udc00"}'],
        ['an integer JSON would round', '{"big":12345678901234567891}'],
        ['nesting deeper than 32 levels', `{"j":${'['.repeat(40)}${']'.repeat(40)}}`],
      ];
      for (const [what, payload] of refusedCases) {
        it(`${what}: connection closed, no PUBACK, no ledger entry`, async () => {
          const before = await telemetryEntries(dev.id);
          const client = await mqttClient(p.url, { username: dev.token });
          assert.equal(await publishOutcome(client, TELEMETRY, payload), 'refused');
          assert.equal(await telemetryEntries(dev.id), before);
        });
      }

      it('a gateway message with one bad child is refused whole: nothing written for the others', async () => {
        const gw = await p.device(t.key, 'gateway-bad-child', true);
        const now = Date.now();
        const messages: Array<[string, unknown, RegExp]> = [
          [
            'v1/gateway/telemetry',
            {
              'Good pump': [{ ts: now, values: { rpm: 900 } }],
              'Bad pump': [{ ts: now, values: { rpm: null } }],
            },
            /^telemetry\//,
          ],
          [
            'v1/gateway/attributes',
            { 'Good pump': { model: 'P' }, 'Bad pump': { model: null } },
            /^devices\/.*\/attributes$/,
          ],
        ];
        for (const [topic, body, resource] of messages) {
          const entries = async () =>
            (await p.ledgerResources(t.id)).filter((r) => resource.test(r)).length;
          const before = await entries();
          const client = await mqttClient(p.url, { username: gw.token });
          assert.equal(await publishOutcome(client, topic, JSON.stringify(body)), 'refused');
          // The tenant's writes commit in order: what the refused message wrote is in by now.
          const other = await mqttClient(p.url, { username: dev.token });
          assert.equal(await publishOutcome(other, TELEMETRY, '{"after":1}'), 'acknowledged');
          await other.endAsync();
          const extra = topic === 'v1/gateway/telemetry' ? 1 : 0;
          assert.equal(await entries(), before + extra, topic);
        }
      });

      it('an oversized payload is refused before it is buffered', async () => {
        const client = await mqttClient(p.url, { username: dev.token });
        const big = JSON.stringify({ blob: 'x'.repeat(p.platform.settings.mqttMaxPacket) });
        assert.equal(await publishOutcome(client, TELEMETRY, big), 'refused');
      });

      it('malformed packets close the connection, each counted', async () => {
        const malformed = async () => {
          const metrics = (await p.call('GET', '/metrics')).body;
          const line =
            /palisade_mqtt_refusals_total\{reason="malformed_packet",code="none"\} (\d+)/;
          return Number(line.exec(metrics)?.[1] ?? 0);
        };
        const before = await malformed();
        const garbage = [
          Buffer.from('GET / HTTP/1.1\r\n\r\n'),
          Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]), // a 5-byte Remaining Length
          Buffer.from([0x30, 0x03, 0x00, 0x01, 0x61]), // PUBLISH before CONNECT
          Buffer.concat([connectPacket('c', dev.token), connectPacket('c', dev.token)]), // two CONNECTs
          Buffer.concat([
            connectPacket('c', dev.token),
            Buffer.from([0x32, 0x03, 0xff, 0xff, 0x00]),
          ]), // topic length past the packet
          Buffer.concat([connectPacket('c', dev.token), Buffer.from([0xf0, 0x00])]), // reserved type 15
        ];
        for (const bytes of garbage) {
          const socket = await rawSocket(p.url);
          const closedWith = readUntilClosed(socket);
          socket.write(bytes);
          await closedWith;
        }
        const huge = await rawSocket(p.url);
        const closedWith = readUntilClosed(huge);
        huge.write(
          Buffer.concat([
            connectPacket('h', dev.token),
            Buffer.from([0x30]),
            remainingLength(200_000_000),
          ]),
        );
        await closedWith;
        // The HTTP request, the five-byte length, the topic past the packet and type 15 are bad
        // packets; PUBLISH before CONNECT and a second CONNECT break the protocol with good ones,
        // and the huge one is too large.
        assert.equal(await malformed(), before + 4);
      });

      it('afterwards the server still accepts good data and counts every refusal by reason', async () => {
        const client = await mqttClient(p.url, { username: dev.token });
        assert.equal(
          await publishOutcome(client, TELEMETRY, JSON.stringify({ ok: 1 })),
          'acknowledged',
        );
        await client.endAsync();
        const metrics = await p.call('GET', '/metrics');
        for (const reason of ['invalid_json', 'invalid_payload', 'packet_too_large'])
          assert.match(
            metrics.body,
            new RegExp(`palisade_mqtt_refusals_total\\{reason="${reason}"`),
          );
        assert.match(
          metrics.body,
          /palisade_mqtt_refusals_total\{reason="invalid_payload",code="PALISADE_[A-Z_]+"\}/,
        );
      });
    });
  });
}
