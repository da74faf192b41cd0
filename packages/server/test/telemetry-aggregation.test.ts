/**
 * `GET /v1/devices/{id}/telemetry` with `interval` and `agg`: buckets are half-open,
 * `[from + k·interval, from + (k+1)·interval)`, start at `from` (the last one cut at `to`),
 * and a bucket with no point is left out; a range that would make more buckets per key than
 * the query's `limit` is refused naming `interval`. The same answers on every backend.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

for (const backend of backendNames()) {
  describe(`telemetry aggregation bounds (${backend})`, () => {
    let api: TestApi;
    let key: string;
    let deviceId: string;
    /** Not a multiple of anything round: buckets must align to `from`, not to the epoch. */
    const from = Date.now() - 3_600_000 - 777;
    const get = (query: string): Promise<Reply> =>
      api.call('GET', `/v1/devices/${deviceId}/telemetry?${query}`, key);

    before(async () => {
      api = await TestApi.start(backend);
      key = (await api.tenant('agg-bounds')).key;
      const made = await api.call('POST', '/v1/devices', key, { name: 'meter' });
      deviceId = made.body.id;
      // Buckets of 1000 ms from `from`: 0 → [from, from+999], 1 → from+1000, 2 empty,
      // 3 → from+3999 (the range's last instant when to = from + 4000), and one at `to`.
      const sent = await api.call('POST', `/v1/devices/${deviceId}/telemetry`, key, [
        { ts: from - 1, values: { v: 100 } },
        { ts: from, values: { v: 1 } },
        { ts: from + 999, values: { v: 2 } },
        { ts: from + 1000, values: { v: 4 } },
        { ts: from + 3999, values: { v: 8 } },
        { ts: from + 4000, values: { v: 16 } },
      ]);
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
    });
    after(() => api.close());

    test('buckets are half-open, aligned to from, and empty ones are left out', async () => {
      const range = `from=${from}&to=${from + 4000}&interval=1000&keys=v`;
      const sum = await get(`${range}&agg=sum`);
      assert.equal(sum.status, 200, JSON.stringify(sum.body));
      assert.deepEqual(sum.body.v, [
        { ts: from, value: 3 },
        { ts: from + 1000, value: 4 },
        { ts: from + 3000, value: 8 },
      ]);
      const count = await get(`${range}&agg=count`);
      assert.deepEqual(
        count.body.v.map((b: { value: number }) => b.value),
        [2, 1, 1],
      );
    });

    test('the last bucket is cut at to and still starts on the grid', async () => {
      const sum = await get(`from=${from}&to=${from + 3500}&interval=3000&agg=sum&keys=v`);
      assert.equal(sum.status, 200, JSON.stringify(sum.body));
      assert.deepEqual(sum.body.v, [{ ts: from, value: 7 }]);
      const tail = await get(`from=${from + 1}&to=${from + 4001}&interval=3000&agg=max&keys=v`);
      assert.deepEqual(tail.body.v, [
        { ts: from + 1, value: 4 },
        { ts: from + 3001, value: 16 },
      ]);
    });

    test('agg without interval is one bucket from from; interval without agg is avg', async () => {
      const one = await get(`from=${from}&to=${from + 4000}&agg=sum&keys=v`);
      assert.deepEqual(one.body.v, [{ ts: from, value: 15 }]);
      const avg = await get(`from=${from}&to=${from + 2000}&interval=2000&keys=v`);
      assert.deepEqual(avg.body.v, [{ ts: from, value: 7 / 3 }]);
    });

    test('to at or before from is refused naming to, raw and aggregated', async () => {
      for (const query of [
        `from=${from}&to=${from}`,
        `from=${from}&to=${from - 1}`,
        `from=${from}&to=${from}&interval=1000&agg=sum`,
        `from=${from}&to=${from - 1}&agg=count`,
      ]) {
        const reply = await get(query);
        assert.equal(reply.status, 400, `${query}: ${JSON.stringify(reply.body)}`);
        assert.equal(reply.body.code, 'PALISADE_INVALID_REQUEST');
        assert.equal(reply.body.errors[0].path, '/querystring/to');
      }
    });

    test('to beyond now is answered with what is stored', async () => {
      const far = Number.MAX_SAFE_INTEGER;
      const raw = await get(`from=${from}&to=${far}&keys=v`);
      assert.equal(raw.status, 200, JSON.stringify(raw.body));
      assert.equal(raw.body.v.length, 5);
      const sum = await get(`from=${from}&to=${far}&agg=sum&keys=v`);
      assert.deepEqual(sum.body.v, [{ ts: from, value: 31 }]);
    });

    test('more buckets than limit is refused naming interval; exactly limit is answered', async () => {
      const at = await get(`from=${from}&to=${from + 10_000}&interval=1000&agg=count&limit=10`);
      assert.equal(at.status, 200, JSON.stringify(at.body));
      // 10,001 ms in buckets of 1000: an eleventh bucket of 1 ms.
      for (const query of [
        `from=${from}&to=${from + 10_001}&interval=1000&agg=count&limit=10`,
        `from=0&to=${Date.now()}&interval=1&agg=avg`,
      ]) {
        const over = await get(query);
        assert.equal(over.status, 400, `${query}: ${JSON.stringify(over.body)}`);
        assert.equal(over.body.code, 'PALISADE_INVALID_REQUEST');
        assert.equal(over.body.errors[0].path, '/querystring/interval');
      }
    });
  });
}
