import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MqttRefusal } from '../src/mqtt/mqtt-refusal.ts';
import { QuotaExceededError } from '../src/quotas/index.ts';
import { type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { signedBatch, signingNode } from './support/edge-nodes.ts';
import { steadyWindow } from './support/windows.ts';

/** The usage window: a day, starting at UTC midnight. */
const DAY_MS = 86_400_000;

/** `n` points of key `k` in one ThingsBoard message, at fixed timestamps. */
function message(n: number, base: number): unknown {
  return Array.from({ length: n }, (_, i) => ({ ts: base + i, values: { k: i } }));
}

for (const backend of backendNames()) {
  describe(`telemetry quotas on ${backend}`, () => {
    let api: TestApi;
    let a: { id: string; key: string };
    let b: { id: string; key: string };
    let deviceA: { id: string; token: string };
    let deviceB: { id: string; token: string };
    const base = Date.now() - 60_000;

    const device = async (key: string) => {
      const created = await api.call('POST', '/v1/devices', key, { name: 'meter' });
      return { id: created.body.id as string, token: created.body.credentials.token as string };
    };
    const stored = async (key: string, id: string): Promise<number> => {
      const reply = await api.call(
        'GET',
        `/v1/devices/${id}/telemetry?keys=k&from=0&to=${base + 10_000}&limit=1000`,
        key,
      );
      return reply.body.k?.length ?? 0;
    };
    const ledger = async (key: string): Promise<number> =>
      (await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key)).body.entries.length;
    const assertRefused = (reply: Reply, reason: string) => {
      assert.equal(reply.status, 429, JSON.stringify(reply.body));
      assert.equal(reply.body.code, 'PALISADE_QUOTA_EXCEEDED');
      assert.equal(reply.body.errors[0].message, reason);
      assert.match(String(reply.headers['retry-after']), /^[1-9][0-9]*$/);
      assert.equal(reply.headers['ratelimit-policy'], `"${reason}";q=1;w=1`);
      assert.match(String(reply.headers.ratelimit), new RegExp(`^"${reason}";r=0;t=[1-9]`));
    };

    before(async () => {
      // One point per second with a one-second burst: a full bucket admits one message of any
      // size and is then in debt for as many seconds as it had points, so the refusals below
      // do not depend on how fast the test runs.
      api = await TestApi.start(backend, {
        quotaTenantPointsPerSecond: ['*=1'],
        quotaBurstSeconds: '1',
        quotaUsageWindowMs: String(DAY_MS),
      });
      a = await api.tenant('flood');
      b = await api.tenant('calm');
      deviceA = await device(a.key);
      deviceB = await device(b.key);
    });
    after(() => api.close());

    test('over the plan rate: 429 with Retry-After and RateLimit headers, nothing written', async () => {
      const first = await api.call(
        'POST',
        `/api/v1/${deviceA.token}/telemetry`,
        undefined,
        message(500, base),
      );
      assert.equal(first.status, 200);
      const points = await stored(a.key, deviceA.id);
      const entries = await ledger(a.key);
      assert.equal(points, 500);
      assertRefused(
        await api.call(
          'POST',
          `/api/v1/${deviceA.token}/telemetry`,
          undefined,
          message(3, base + 600),
        ),
        'tenant_points',
      );
      assertRefused(
        await api.call(
          'POST',
          `/v1/devices/${deviceA.id}/telemetry`,
          a.key,
          message(1, base + 700),
        ),
        'tenant_points',
      );
      assert.equal(await stored(a.key, deviceA.id), points, 'no point of a refused message');
      assert.equal(await ledger(a.key), entries, 'no ledger entry for a refused message');
    });

    test("tenant A's flood leaves tenant B's budget whole", async () => {
      for (let i = 0; i < 20; i++) {
        const reply = await api.call('POST', `/v1/devices/${deviceA.id}/telemetry`, a.key, {
          k: i,
        });
        assert.equal(reply.status, 429);
      }
      const reply = await api.call(
        'POST',
        `/v1/devices/${deviceB.id}/telemetry`,
        b.key,
        message(50, base),
      );
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(await stored(b.key, deviceB.id), 50);
    });

    test('GET /v1/usage reports the plan, its limits and what happened', async () => {
      // The request is counted when the gateway admits it and read back by the handler: were
      // the window to turn in between, the handler would read a fresh one (accepted 0).
      await steadyWindow(DAY_MS, 60_000);
      const usage = await api.call('GET', '/v1/usage', a.key);
      assert.equal(usage.status, 200, JSON.stringify(usage.body));
      assert.equal(usage.body.tenant, a.id);
      assert.equal(usage.body.plan, 'free');
      assert.deepEqual(usage.body.limits, {
        tenantMessagesPerSecond: 0,
        tenantPointsPerSecond: 1,
        deviceMessagesPerSecond: 0,
        devicePointsPerSecond: 0,
        tenantRequestsPerSecond: 0,
        principalRequestsPerSecond: 0,
        burstSeconds: 1,
        devicesMax: 0,
        collectionsMax: 0,
        telemetryStreamsMax: 100,
      });
      assert.deepEqual(usage.body.streams, { open: 0, max: 100 });
      const held = await api.call('GET', '/v1/usage/objects', a.key);
      assert.deepEqual([held.body.devices.count, held.body.collections.count], [1, 0]);
      assert.equal(usage.body.requests.remaining, null, 'no request limit on this plan');
      assert.ok(usage.body.requests.accepted >= 1);
      // The window may have rolled over between tests; within one window the counts add up.
      const { messages, points } = usage.body;
      assert.ok(messages.accepted <= 1 && points.accepted <= 500);
      assert.ok(messages.refused <= 22);
      assert.equal(points.remaining, 0);
      assert.equal(messages.remaining, null);
      const other = await api.call('GET', '/v1/usage', b.key);
      assert.equal(other.body.tenant, b.id);
      assert.equal(other.body.messages.refused, 0);
    });

    test('an edge batch is charged whole: over the rate it is refused whole, a replay is free', async () => {
      const edgy = await api.tenant('edgy');
      const meter = await device(edgy.key);
      const node = await signingNode(api, edgy.key);
      await api.call('PATCH', `/v1/devices/${meter.id}`, edgy.key, { edgeNodeId: node.nodeId });
      const messages = (from: number, count: number) =>
        Array.from({ length: count }, (_, i) => ({
          deviceId: meter.id,
          payload: { ts: base + from + i, values: { k: i } },
          receivedAt: base + from + i,
        }));
      // Sixty points leave the tenant 59 s in debt: the next batch is refused however long
      // the machine takes between the two (three points would be paid back within 3 s).
      const first = signedBatch(node, 'b1', messages(0, 60));
      const sent = await api.call('POST', '/v1/edge/batches', node.credential, first);
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const entries = await ledger(edgy.key);
      const refused = await api.call(
        'POST',
        '/v1/edge/batches',
        node.credential,
        signedBatch(node, 'b2', messages(100, 3)),
      );
      assertRefused(refused, 'tenant_points');
      assert.equal(await stored(edgy.key, meter.id), 60);
      assert.equal(await ledger(edgy.key), entries, 'no ledger entry for a refused batch');
      const replay = await api.call('POST', '/v1/edge/batches', node.credential, first);
      assert.deepEqual(replay.body, sent.body, 'a replay is answered, not charged');
    });

    test('refusals are counted per reason in /metrics, and MQTT names the reason', async () => {
      const metrics = await api.call('GET', '/metrics', undefined);
      const refused = /palisade_quota_refusals_total\{reason="tenant_points"\} (\d+)/.exec(
        String(metrics.body),
      );
      assert.ok(Number(refused?.[1]) >= 22, String(refused));
      const refusal = MqttRefusal.fromIngest(
        new QuotaExceededError({
          reason: 'device_messages',
          quota: 1,
          windowSeconds: 1,
          remaining: 0,
          retryAfterSeconds: 1,
        }),
      );
      assert.equal(refusal.reason, 'quota_exceeded');
      assert.equal(refusal.code, 'PALISADE_QUOTA_EXCEEDED');
    });
  });
}
