/**
 * A flood of made-up bearer tokens must not push the real credentials out of the gateway's
 * cache: after ten times as many unknown tokens as the cache keeps, a real API key is still
 * answered without asking the control plane, which the lookup counter on /metrics shows.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/** The cache's bounds here: found credentials, and unknown ones apart. */
const CACHE_MAX = '100';
/** Ten times what either bound of the cache holds, and more than both together. */
const FLOOD = 1_001;

/** The control-plane lookups of bearer secrets so far, from /metrics. */
async function storeLookups(api: TestApi): Promise<number> {
  const metrics = await api.call('GET', '/metrics', undefined);
  const line = String(metrics.body)
    .split('\n')
    .find((row) => row.startsWith('palisade_credential_store_lookups_total'));
  assert.ok(line !== undefined, 'the lookup counter is exported');
  return Number(line.split(' ').at(-1));
}

for (const backend of backendNames()) {
  describe(`credential cache on ${backend}`, () => {
    test('a flood of random bearer tokens leaves a real API key served from the cache', async (t) => {
      // Entries never expire during the test: only eviction could make the key be looked up.
      const api = await TestApi.start(backend, {
        authCacheTtlMs: '3600000',
        authCacheMax: CACHE_MAX,
        authCacheMissesMax: CACHE_MAX,
      });
      t.after(() => api.close());
      const { key } = await api.tenant('steady');
      assert.equal((await api.call('GET', '/v1/collections', key)).status, 200);
      assert.equal((await api.call('GET', '/v1/platform/tenants', ADMIN_TOKEN)).status, 200);

      const before = await storeLookups(api);
      for (let i = 0; i < FLOOD; i++) {
        const refused = await api.call(
          'GET',
          '/v1/collections',
          `pk_${randomBytes(16).toString('hex')}`,
        );
        assert.equal(refused.status, 401);
      }
      const flooded = await storeLookups(api);
      assert.equal(flooded - before, FLOOD, 'each made-up token was looked up once');

      assert.equal((await api.call('GET', '/v1/collections', key)).status, 200);
      assert.equal((await api.call('GET', '/v1/platform/tenants', ADMIN_TOKEN)).status, 200);
      assert.equal(await storeLookups(api), flooded, 'the real credentials came from the cache');
    });
  });
}
