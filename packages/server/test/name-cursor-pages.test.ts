/**
 * GET /v1/collections and GET /v1/roles page by name as the other listings page by id: a page
 * with a nextCursor holds `limit` items, a withheld item never ends a page, and a cursor is
 * the encoded last name, checked as the other cursors are.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { keyWith } from './support/graphql.ts';

const COLLECTIONS = ['a1', 'a2', 'a3', 'a4', 'a5'];
const ROLES = ['r1', 'r2', 'r3', 'r4', 'r5'];
const BUILT_IN = ['owner', 'admin', 'developer', 'viewer', 'device'];

/** Every page of `path` by `limit`, following nextCursor. */
async function pages(api: TestApi, key: string, path: string, limit: number) {
  const found: { names: string[]; nextCursor: string | null }[] = [];
  for (let cursor: string | null = null; ; ) {
    const query: string = cursor === null ? '' : `&cursor=${cursor}`;
    const reply = await api.call('GET', `${path}?limit=${limit}${query}`, key);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const names = reply.body.items.map((item: { name: string }) => item.name);
    found.push({ names, nextCursor: reply.body.nextCursor });
    cursor = reply.body.nextCursor;
    if (cursor === null) return found;
    assert.equal(names.length, limit, 'a page with a cursor is full');
  }
}

function cursorOf(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

function forbid(action: string, kind: string, names: string[]): string {
  return names
    .map(
      (name) =>
        `forbid (principal in Palisade::Role::"admin", action == Palisade::Action::"${action}", resource == Palisade::${kind}::"${name}");`,
    )
    .join('\n');
}

for (const backend of backendNames()) {
  describe(`collections and roles page by name, on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };
    let admin: string;

    before(async () => {
      api = await TestApi.start(backend);
      tenant = await api.tenant('name-pages');
      for (const name of COLLECTIONS) {
        const put = await api.call('PUT', `/v1/collections/${name}`, tenant.key, {
          schema: { type: 'object' },
        });
        assert.equal(put.status, 201);
      }
      for (const name of ROLES) {
        const put = await api.call('PUT', `/v1/roles/${name}`, tenant.key, {
          permissions: ['keys:read'],
        });
        assert.equal(put.status, 201);
      }
      const policies = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: [
          'permit (principal, action, resource);',
          forbid('collections:read', 'Collection', ['a2', 'a3']),
          forbid('roles:read', 'Role', ['viewer', 'device', 'r2']),
        ].join('\n'),
      });
      assert.equal(policies.status, 200, JSON.stringify(policies.body));
      admin = await keyWith(api, tenant.id, ['admin']);
    });
    after(() => api.close());

    test('five collections by two are three pages whose cursors chain', async () => {
      const found = await pages(api, tenant.key, '/v1/collections', 2);
      assert.deepEqual(
        found.map((page) => page.names),
        [['a1', 'a2'], ['a3', 'a4'], ['a5']],
      );
      assert.deepEqual(
        found.map((page) => page.nextCursor),
        [cursorOf('a2'), cursorOf('a4'), null],
      );
    });

    test('withheld collections neither shorten a page nor end one', async () => {
      const found = await pages(api, admin, '/v1/collections', 2);
      assert.deepEqual(
        found.map((page) => page.names),
        [['a1', 'a4'], ['a5']],
      );
      assert.equal(found[0]!.nextCursor, cursorOf('a4'));
    });

    test('roles list built-in first, then custom by name, a cursor crossing between', async () => {
      const found = await pages(api, tenant.key, '/v1/roles', 2);
      assert.deepEqual(
        found.map((page) => page.names),
        [
          ['owner', 'admin'],
          ['developer', 'viewer'],
          ['device', 'r1'],
          ['r2', 'r3'],
          ['r4', 'r5'],
        ],
      );
      assert.deepEqual(
        found.flatMap((page) => page.names),
        [...BUILT_IN, ...ROLES],
      );
    });

    test('withheld roles neither shorten a page nor end one', async () => {
      const found = await pages(api, admin, '/v1/roles', 2);
      assert.deepEqual(
        found.map((page) => page.names),
        [['owner', 'admin'], ['developer', 'r1'], ['r3', 'r4'], ['r5']],
      );
      assert.equal(found[1]!.nextCursor, cursorOf('r1'));
    });

    test('a cursor this server did not issue is PALISADE_INVALID_CURSOR', async () => {
      for (const path of ['/v1/collections', '/v1/roles'])
        for (const cursor of ['not!base64', cursorOf('Upper'), `${cursorOf('a1')}A`, 'YTE=']) {
          const reply = await api.call(
            'GET',
            `${path}?cursor=${encodeURIComponent(cursor)}`,
            admin,
          );
          assert.equal(reply.status, 400, `${path} ${cursor}`);
          assert.equal(reply.body.code, 'PALISADE_INVALID_CURSOR');
        }
    });

    test("another tenant's cursor shows nothing of this tenant", async () => {
      const other = await api.tenant('name-pages-other');
      const put = await api.call('PUT', '/v1/collections/b1', other.key, {
        schema: { type: 'object' },
      });
      assert.equal(put.status, 201);
      const collections = await api.call(
        'GET',
        `/v1/collections?cursor=${cursorOf('a1')}`,
        other.key,
      );
      assert.deepEqual(
        collections.body.items.map((c: { name: string }) => c.name),
        ['b1'],
      );
      assert.equal(collections.body.nextCursor, null);
      const roles = await api.call('GET', `/v1/roles?cursor=${cursorOf('device')}`, other.key);
      assert.deepEqual(roles.body, { items: [], nextCursor: null });
    });
  });
}
