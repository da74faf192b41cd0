import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { codesOf, gql } from './support/graphql.ts';

/** Tenant requests left in the bucket, as `GET /v1/usage` (itself one request) reports them. */
async function remaining(api: TestApi, key: string): Promise<number> {
  const usage = await api.call('GET', '/v1/usage', key);
  assert.equal(usage.status, 200, JSON.stringify(usage.body));
  return usage.body.requests.remaining;
}

/** `count` aliases of one field, as one selection. */
function aliased(count: number, field: (i: number) => string): string {
  return Array.from({ length: count }, (_, i) => `f${i}: ${field(i)}`).join(' ');
}

for (const backend of backendNames()) {
  describe(`GraphQL operations charged to the request rate on ${backend}`, () => {
    let api: TestApi;

    const onSmallPlan = async (slug: string) => {
      const tenant = await api.tenant(slug);
      const patched = await api.call('PATCH', `/v1/platform/tenants/${tenant.id}`, ADMIN_TOKEN, {
        plan: 'small',
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const put = await api.call('PUT', '/v1/collections/people', tenant.key, {
        schema: PEOPLE_SCHEMA,
      });
      assert.equal(put.status, 201, JSON.stringify(put.body));
      return tenant;
    };

    before(async () => {
      // 40 requests a bucket, refilled at one a second: the calls below take far less.
      api = await TestApi.start(backend, {
        quotaTenantRequestsPerSecond: ['*=0', 'small=1'],
        quotaBurstSeconds: '40',
        quotaRefusalDelayMs: '0',
        pageSizeMax: '10',
      });
    });
    after(() => api.close());

    test('each store operation is one request; an operation over the rate runs nothing', async () => {
      const a = await onSmallPlan('reader');
      const b = await onSmallPlan('bystander');
      const start = await remaining(api, a.key);
      const reads = await gql(
        api,
        a.key,
        `{ ${aliased(30, () => 'collection(name: "people") { name }')} }`,
      );
      assert.deepEqual(codesOf(reads), [], JSON.stringify(reads.body));
      const left = await remaining(api, a.key);
      // 30 reads and one usage call, less what the bucket refilled meanwhile.
      assert.ok(left <= start - 25, `30 reads charged ${start - left - 1}`);

      const creates = `mutation { ${aliased(30, (i) => `createRecord(collection: "people", data: {name: "n${i}"}) { id }`)} }`;
      const refused = await api.call('POST', '/v1/graphql', a.key, { query: creates });
      assert.equal(refused.status, 429, JSON.stringify(refused.body));
      assert.deepEqual(codesOf(refused), ['PALISADE_RATE_LIMITED']);
      assert.equal(refused.body.data, undefined);
      assert.match(String(refused.headers['retry-after']), /^[1-9][0-9]*$/);
      assert.equal(refused.headers['ratelimit-policy'], '"tenant_requests";q=40;w=40');
      const records = await api.call('GET', '/v1/collections/people/records', a.key);
      assert.deepEqual(records.body.items, [], 'no mutation of the refused operation ran');

      // Another tenant's bucket is its own.
      const other = await gql(api, b.key, creates);
      assert.deepEqual(codesOf(other), [], JSON.stringify(other.body));
      assert.equal(Object.keys(other.body.data).length, 30);
    });

    test('what a list may hold is charged before it runs, and given back when it holds less', async () => {
      const c = await onSmallPlan('lister');
      const start = await remaining(api, c.key);
      // At most 10 collections (pageSizeMax) with a page each: 11 operations; c has one.
      const reply = await api.call('POST', '/v1/graphql', c.key, {
        query: '{ collections { records(limit: 5) { items { id } } } }',
      });
      assert.deepEqual(codesOf(reply), [], JSON.stringify(reply.body));
      assert.match(String(reply.headers.ratelimit), /^"tenant_requests";r=[0-9]+;t=[0-9]+$/);
      const left = await remaining(api, c.key);
      assert.ok(left >= start - 3, `2 operations and a usage call charged ${start - left}`);
    });
  });
}
