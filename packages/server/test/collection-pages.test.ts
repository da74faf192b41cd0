/**
 * Collections listed or counted under policies (GET /v1/collections page by page,
 * GET /v1/usage/objects, GraphQL `collections`) are read from the store a page at a time,
 * never all at once: a tenant may hold up to its plan's collectionsMax of them, and 0 is
 * unlimited.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TenantReader } from '../src/store/index.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { codesOf, gql, keyWith } from './support/graphql.ts';

/** More than one page of the collection service's store reads (100). */
const HELD = 230;
const STORE_PAGE = 100;
/** GET /v1/collections reads `limit + 1` at a time. */
const LISTING_LIMIT = 50;
const NAMES = Array.from({ length: HELD }, (_, i) => `c${String(i).padStart(3, '0')}`);
const HIDDEN = ['c007', 'c100', 'c229'];

/** How many collections each of the tenant's store reads returned, from now on. */
function collectionReads(api: TestApi, tenantId: string): number[] {
  const reads: number[] = [];
  const spied = new WeakSet<TenantReader>();
  for (const shard of api.platform.stores.shards.values()) {
    const tenant = shard.tenant.bind(shard);
    shard.tenant = async (id) => {
      const store = await tenant(id);
      const { reader } = store;
      if (id === tenantId && !spied.has(reader)) {
        spied.add(reader);
        const list = reader.listCollections.bind(reader);
        reader.listCollections = async (page) => {
          const rows = await list(page);
          reads.push(rows.length);
          return rows;
        };
      }
      return store;
    };
  }
  return reads;
}

for (const backend of backendNames()) {
  describe(`collections read a page at a time, on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };

    before(async () => {
      // GraphQL `collections` answers at most pageSizeMax: the owner's 230 are too many.
      api = await TestApi.start(backend, { pageSizeMax: String(HELD - 1) });
      tenant = await api.tenant('collection-pages');
      for (const name of NAMES)
        assert.equal(
          (
            await api.call('PUT', `/v1/collections/${name}`, tenant.key, {
              schema: { type: 'object' },
            })
          ).status,
          201,
        );
      const forbid = HIDDEN.map(
        (name) =>
          `forbid (principal in Palisade::Role::"admin", action == Palisade::Action::"collections:read", resource == Palisade::Collection::"${name}");`,
      );
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: ['permit (principal, action, resource);', ...forbid].join('\n'),
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
    });
    after(() => api.close());

    test('listings and counts under policies answer as before, no store read over a page', async () => {
      const admin = await keyWith(api, tenant.id, ['admin']);
      const reads = collectionReads(api, tenant.id);
      const readable = NAMES.filter((name) => !HIDDEN.includes(name));

      const listed: string[] = [];
      for (let cursor = ''; ; ) {
        const page = await api.call(
          'GET',
          `/v1/collections?limit=${LISTING_LIMIT}${cursor}`,
          admin,
        );
        assert.equal(page.status, 200);
        listed.push(...page.body.items.map((c: { name: string }) => c.name));
        if (page.body.nextCursor === null) break;
        cursor = `&cursor=${page.body.nextCursor}`;
      }
      assert.deepEqual(listed, readable);
      const counted = async (key: string) =>
        (await api.call('GET', '/v1/usage/objects', key)).body.collections.count;
      assert.equal(await counted(admin), readable.length);
      assert.equal(await counted(tenant.key), HELD);

      const graphql = await gql(api, admin, '{ collections { name } }');
      assert.deepEqual(codesOf(graphql), [], JSON.stringify(graphql.body));
      assert.deepEqual(
        graphql.body.data.collections.map((c: { name: string }) => c.name),
        readable,
      );
      const owner = await gql(api, tenant.key, '{ collections { name } }');
      assert.deepEqual(codesOf(owner), ['PALISADE_GRAPHQL_TOO_COSTLY']);
      assert.match(
        owner.body.errors[0].message,
        /the tenant has 230 collections, more than the 229/,
      );

      assert.ok(reads.length > 0, 'the collections were read');
      assert.ok(
        reads.every((rows) => rows <= STORE_PAGE),
        `store reads of ${reads.join(', ')} collections`,
      );
    });
  });
}
