/**
 * A plan caps the live telemetry streams (`GET /v1/telemetry/stream`, tenant-wide or of one
 * device) a tenant holds open in one process (`quotaTelemetryStreamsMax`), since each holds a
 * bus consumer (a JetStream consumer on NATS): one more is refused with 429
 * PALISADE_TELEMETRY_STREAM_LIMIT before any consumer is made, counted, and shown by
 * `GET /v1/usage`. A stream that ends, for whatever reason, frees its place.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { busFlags } from './support/buses.ts';

const MAX = 2;

/** Polls `check` until it holds (a stream's end is seen by the server after the client's). */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let waited = 0; !(await check()); waited += 20) {
    if (waited > 20_000) throw new Error(`never: ${what}`);
    await sleep(20);
  }
}

for (const backend of backendNames()) {
  const bus = backend === 'postgres' && process.env.PALISADE_TEST_NATS_URL ? 'nats' : 'in-process';
  describe(`live telemetry streams are capped per tenant: ${backend}, ${bus} bus`, () => {
    let api: TestApi;
    let base: string;

    before(async () => {
      api = await TestApi.start(backend, {
        ...busFlags(bus),
        quotaTelemetryStreamsMax: [`*=${MAX}`],
        telemetryStreamHeartbeatMs: '1000',
      });
      await api.http.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${(api.http.server.address() as { port: number }).port}`;
    });
    after(() => api.close());

    const request = (key: string, deviceId?: string) => {
      const controller = new AbortController();
      const query = deviceId === undefined ? '' : `?deviceId=${deviceId}`;
      const response = fetch(`${base}/v1/telemetry/stream${query}`, {
        headers: { authorization: `Bearer ${key}` },
        signal: controller.signal,
      });
      return { response, close: () => controller.abort() };
    };
    /** An open stream: `ended` resolves when the server ends it. */
    const open = async (key: string, deviceId?: string) => {
      const { response, close } = request(key, deviceId);
      const opened = await response;
      assert.equal(opened.status, 200, await (opened.status === 200 ? '' : opened.text()));
      const reader = opened.body!.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /connected/);
      const ended = (async () => {
        while (!(await reader.read().catch(() => ({ done: true }))).done);
      })();
      return { close, ended };
    };
    const streams = async (key: string) => {
      const usage = await api.call('GET', '/v1/usage', key);
      assert.equal(usage.status, 200, JSON.stringify(usage.body));
      return usage.body.streams as { open: number; max: number };
    };
    const refusedTotal = async () => {
      const metrics = (await api.call('GET', '/metrics', undefined)).body as string;
      return Number(/^palisade_telemetry_streams_refused_total (\d+)$/m.exec(metrics)?.[1]);
    };

    test('one stream past the cap is refused precisely and counted; one that ends makes room', async () => {
      const t = await api.tenant(`streams-${backend}`);
      const other = await api.tenant(`streams-other-${backend}`);
      const device = await api.call('POST', '/v1/devices', t.key, { name: 'meter' });
      const refusedBefore = await refusedTotal();
      const first = await open(t.key);
      await open(t.key, device.body.id);
      for (const deviceId of [undefined, device.body.id]) {
        const refused = await request(t.key, deviceId).response;
        assert.equal(refused.status, 429);
        assert.equal(
          refused.headers.get('content-type'),
          'application/problem+json; charset=utf-8',
        );
        const problem = (await refused.json()) as { code: string; detail: string; errors: unknown };
        assert.equal(problem.code, 'PALISADE_TELEMETRY_STREAM_LIMIT');
        assert.match(problem.detail, /2 live telemetry streams open.*quotaTelemetryStreamsMax 2/);
        assert.deepEqual(problem.errors, [{ path: '', message: 'quotaTelemetryStreamsMax' }]);
      }
      assert.equal(await refusedTotal(), refusedBefore + 2);
      assert.deepEqual(await streams(t.key), { open: MAX, max: MAX });
      const usage = await api.call('GET', '/v1/usage', t.key);
      assert.equal(usage.body.limits.telemetryStreamsMax, MAX);
      const theirs = await open(other.key);
      assert.deepEqual(await streams(other.key), { open: 1, max: MAX }, 'a cap per tenant');

      first.close();
      await eventually(async () => (await streams(t.key)).open === MAX - 1, 'the place is freed');
      await open(t.key);
      theirs.close();
    });

    test("a suspended tenant's streams end and free their places", async () => {
      const t = await api.tenant(`streams-suspended-${backend}`);
      const opened = [await open(t.key), await open(t.key)];
      const suspend = await api.call('PATCH', `/v1/platform/tenants/${t.id}`, ADMIN_TOKEN, {
        status: 'suspended',
      });
      assert.equal(suspend.status, 200);
      await Promise.all(opened.map((stream) => stream.ended));
      await api.call('PATCH', `/v1/platform/tenants/${t.id}`, ADMIN_TOKEN, { status: 'active' });
      await eventually(async () => (await streams(t.key)).open === 0, 'the places are freed');
      await open(t.key);
      await open(t.key);
    });

    test("a deleted tenant's streams end and free their places", async () => {
      const t = await api.tenant(`streams-deleted-${backend}`);
      const opened = [await open(t.key), await open(t.key)];
      const deleted = await api.call('DELETE', `/v1/platform/tenants/${t.id}`, ADMIN_TOKEN);
      assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
      await Promise.all(opened.map((stream) => stream.ended));
      assert.equal(api.platform.devices.liveStreams.openOf(t.id), 0);
    });

    test('a stream whose bus consumer could not be made holds no place', async () => {
      const t = await api.tenant(`streams-failed-${backend}`);
      const subscribe = api.platform.devices.bus.subscribe;
      api.platform.devices.bus.subscribe = () => Promise.reject(new Error('the bus is down'));
      try {
        for (let i = 0; i <= MAX; i++) assert.equal((await request(t.key).response).status, 500);
      } finally {
        api.platform.devices.bus.subscribe = subscribe;
      }
      assert.deepEqual(await streams(t.key), { open: 0, max: MAX });
    });
  });
}
