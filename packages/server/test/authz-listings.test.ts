/**
 * A policy that forbids a principal one collection, user, OAuth client, edge node or role
 * holds in every listing of its kind, REST and GraphQL: the item is left out as if it did not
 * exist, decided as reading it alone is, while the items the principal may read still appear,
 * page by page, and an owner no policy forbids lists everything.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { enrolledNode } from './support/edge-nodes.ts';
import { gql, keyWith } from './support/graphql.ts';

/** One kind of item: how to make one, its Cedar type and read action, and its single read. */
interface Kind {
  readonly permission: string;
  readonly type: string;
  readonly read: (id: string) => string;
}

const KINDS = {
  collections: {
    permission: 'collections:read',
    type: 'Collection',
    read: (name) => `/v1/collections/${name}`,
  },
  users: { permission: 'users:read', type: 'User', read: (id) => `/v1/users/${id}` },
  clients: { permission: 'clients:read', type: 'Client', read: (id) => `/v1/clients/${id}` },
  'edge-nodes': {
    permission: 'edge:read',
    type: 'EdgeNode',
    read: (id) => `/v1/edge-nodes/${id}/alerts`,
  },
  roles: { permission: 'roles:read', type: 'Role', read: (name) => `/v1/roles/${name}` },
} as const satisfies Record<string, Kind>;
type KindName = keyof typeof KINDS;

const PAGED: readonly KindName[] = ['users', 'clients', 'edge-nodes'];

/** Forbids admins reading `hidden[kind]` of each kind; everything else is allowed. */
function forbidding(hidden: Record<KindName, string>): string {
  const forbids = Object.entries(KINDS).map(
    ([kind, { permission, type }]) =>
      `forbid (principal in Palisade::Role::"admin", action == Palisade::Action::"${permission}", resource == Palisade::${type}::"${hidden[kind as KindName]}");`,
  );
  return ['permit (principal, action, resource);', ...forbids].join('\n');
}

for (const backend of backendNames()) {
  describe(`listings under policies that forbid one item, on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };
    let admin: string;
    /** Each kind's items as the owner lists them, and the one admins may not read. */
    const all = {} as Record<KindName, string[]>;
    const hidden = {} as Record<KindName, string>;

    /** The ids (names) a REST listing holds, walked `limit` at a time. */
    async function rest(kind: KindName, key: string, limit = 100): Promise<string[]> {
      if (!PAGED.includes(kind)) {
        const reply = await api.call('GET', `/v1/${kind}`, key);
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        return reply.body.items.map((item: { name: string }) => item.name);
      }
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor === null ? '' : `&cursor=${cursor}`;
        const page = await api.call('GET', `/v1/${kind}?limit=${limit}${query}`, key);
        assert.equal(page.status, 200, JSON.stringify(page.body));
        if (page.body.nextCursor !== null) assert.equal(page.body.items.length, limit);
        ids.push(...page.body.items.map((item: { id: string }) => item.id));
        cursor = page.body.nextCursor;
      } while (cursor !== null);
      return ids;
    }

    /** The ids (names) a GraphQL listing holds, walked `limit` at a time. */
    async function graphql(
      kind: 'collections' | 'users' | 'clients',
      key: string,
      limit = 100,
    ): Promise<string[]> {
      if (kind === 'collections') {
        const reply = await gql(api, key, '{ collections { name } }');
        assert.equal(reply.body.errors, undefined, JSON.stringify(reply.body));
        return reply.body.data.collections.map((item: { name: string }) => item.name);
      }
      const query = `query($limit: Int, $after: String) {
        ${kind}(limit: $limit, after: $after) { items { id } nextCursor }
      }`;
      const ids: string[] = [];
      let after: string | null = null;
      do {
        const reply = await gql(api, key, query, { limit, after });
        assert.equal(reply.body.errors, undefined, JSON.stringify(reply.body));
        const page: { items: { id: string }[]; nextCursor: string | null } = reply.body.data[kind];
        if (page.nextCursor !== null) assert.equal(page.items.length, limit);
        ids.push(...page.items.map((item) => item.id));
        after = page.nextCursor;
      } while (after !== null);
      return ids;
    }

    before(async () => {
      api = await TestApi.start(backend);
      tenant = await api.tenant('listings');
      admin = await keyWith(api, tenant.id, ['admin']);
      for (const i of [1, 2, 3]) {
        const made = [
          await api.call('PUT', `/v1/collections/things-${i}`, tenant.key, {
            schema: { type: 'object' },
          }),
          await api.call('POST', '/v1/users', tenant.key, {
            email: `user${i}@example.org`,
            name: `User ${i}`,
          }),
          await api.call('POST', '/v1/clients', tenant.key, {
            name: `bot ${i}`,
            kind: 'service',
            roles: ['viewer'],
          }),
          await api.call('PUT', `/v1/roles/auditor-${i}`, tenant.key, {
            permissions: ['records:read'],
          }),
        ];
        for (const reply of made) assert.ok(reply.status < 300, JSON.stringify(reply.body));
        await enrolledNode(api, tenant.key, `gateway ${i}`);
      }
      for (const kind of Object.keys(KINDS) as KindName[]) {
        all[kind] = await rest(kind, tenant.key);
        assert.ok(all[kind].length >= 3, `${kind}: ${all[kind]}`);
      }
      // Between readable ones, so that a page must be filled past it.
      hidden.collections = 'things-2';
      hidden.roles = 'auditor-2';
      for (const kind of PAGED) hidden[kind] = all[kind][1]!;
    });
    after(() => api.close());

    async function withPolicies(run: () => Promise<void>): Promise<void> {
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: forbidding(hidden),
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      try {
        await run();
      } finally {
        await api.call('DELETE', '/v1/policies', tenant.key);
      }
    }

    for (const kind of Object.keys(KINDS) as KindName[]) {
      test(`GET /v1/${kind} leaves out what a policy forbids the caller to read`, async () => {
        assert.deepEqual(await rest(kind, admin), all[kind], 'without policies, everything');
        const readable = all[kind].filter((id) => id !== hidden[kind]);
        await withPolicies(async () => {
          const one = await api.call('GET', KINDS[kind].read(hidden[kind]), admin);
          assert.equal(one.status, 403, 'the item itself is forbidden');
          const other = await api.call('GET', KINDS[kind].read(readable[0]!), admin);
          assert.equal(other.status, 200, 'the others are not');
          assert.deepEqual(await rest(kind, admin), readable, 'the forbidden one is left out');
          if (PAGED.includes(kind))
            assert.deepEqual(await rest(kind, admin, 1), readable, 'and never ends a page');
          assert.deepEqual(await rest(kind, tenant.key), all[kind], 'an owner lists it');
        });
        assert.deepEqual(await rest(kind, admin), all[kind], 'the policy gone, listed again');
      });
    }

    for (const kind of ['collections', 'users', 'clients'] as const) {
      test(`GraphQL ${kind} leaves out what a policy forbids the caller to read`, async () => {
        assert.deepEqual(await graphql(kind, admin), all[kind], 'without policies, everything');
        const readable = all[kind].filter((id) => id !== hidden[kind]);
        await withPolicies(async () => {
          assert.deepEqual(await graphql(kind, admin), readable, 'the forbidden one is left out');
          if (kind !== 'collections')
            assert.deepEqual(await graphql(kind, admin, 1), readable, 'and never ends a page');
          assert.deepEqual(await graphql(kind, tenant.key), all[kind], 'an owner lists it');
        });
      });
    }
  });
}
