import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BUILT_IN_ROLE_NAMES, BUILT_IN_ROLES } from '../src/authz/index.ts';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/** Issues an API key of the tenant acting with `roles`. */
async function keyWith(api: TestApi, tenantId: string, roles: string[]): Promise<string> {
  const issued = await api.call('POST', `/v1/platform/tenants/${tenantId}/api-keys`, ADMIN_TOKEN, {
    name: roles.join('+'),
    roles,
  });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  assert.deepEqual(issued.body.roles, roles);
  return issued.body.secret;
}

async function ledgerActions(
  api: TestApi,
  key: string,
): Promise<{ action: string; resource: string }[]> {
  const { body } = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key);
  return body.entries.map((e: { entry: { action: string; resource: string } }) => ({
    action: e.entry.action,
    resource: e.entry.resource,
  }));
}

/** The custom-role limit of these tests, low enough to reach. */
const ROLES_MAX = 6;

for (const backend of backendNames()) {
  describe(`roles on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };

    before(async () => {
      api = await TestApi.start(backend, { customRolesMax: String(ROLES_MAX) });
      tenant = await api.tenant('roles');
      await api.call('PUT', '/v1/collections/people', tenant.key, { schema: PEOPLE_SCHEMA });
    });
    after(() => api.close());

    test('a key issued without roles is an owner, as keys were before roles', async () => {
      const keys = await api.call('GET', `/v1/platform/tenants/${tenant.id}/api-keys`, ADMIN_TOKEN);
      assert.deepEqual(keys.body.items[0].roles, ['owner']);
      assert.equal((await api.call('GET', '/v1/roles', tenant.key)).status, 200);
    });

    test('the list shows every built-in role with its permissions, immutable', async () => {
      const { status, body } = await api.call('GET', '/v1/roles', tenant.key);
      assert.equal(status, 200);
      const builtIn = body.items.filter((r: { builtIn: boolean }) => r.builtIn);
      assert.deepEqual(
        builtIn.map((r: { name: string }) => r.name),
        [...BUILT_IN_ROLE_NAMES],
      );
      for (const role of builtIn)
        assert.deepEqual(role.permissions, BUILT_IN_ROLES[role.name as 'owner']);
      const put = await api.call('PUT', '/v1/roles/viewer', tenant.key, { permissions: [] });
      assert.equal(put.status, 409);
      assert.equal(put.body.code, 'PALISADE_ROLE_BUILT_IN');
      const del = await api.call('DELETE', '/v1/roles/owner', tenant.key);
      assert.equal(del.body.code, 'PALISADE_ROLE_BUILT_IN');
    });

    test('custom roles: create, read, replace, delete, each a ledger entry', async () => {
      const created = await api.call('PUT', '/v1/roles/auditor', tenant.key, {
        description: 'reads the ledger',
        permissions: ['ledger:read', 'collections:read', 'ledger:read'.replace('read', 'export')],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.headers.location, '/v1/roles/auditor');
      assert.deepEqual(created.body.permissions, [
        'collections:read',
        'ledger:read',
        'ledger:export',
      ]);
      assert.equal(created.body.version, 1);
      assert.equal(created.body.builtIn, false);
      const shown = await api.call('GET', '/v1/roles/auditor', tenant.key);
      assert.deepEqual(shown.body, created.body);
      const replaced = await api.call('PUT', '/v1/roles/auditor', tenant.key, {
        permissions: ['ledger:read'],
      });
      assert.equal(replaced.status, 200);
      assert.equal(replaced.body.version, 2);
      assert.equal(replaced.body.description, 'reads the ledger', 'kept when not sent');
      assert.equal(replaced.body.createdAt, created.body.createdAt);
      const listed = await api.call('GET', '/v1/roles', tenant.key);
      assert.deepEqual(listed.body.items.at(-1), replaced.body);
      assert.equal((await api.call('DELETE', '/v1/roles/auditor', tenant.key)).status, 204);
      const gone = await api.call('GET', '/v1/roles/auditor', tenant.key);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.code, 'PALISADE_ROLE_NOT_FOUND');
      assert.equal((await api.call('DELETE', '/v1/roles/auditor', tenant.key)).status, 404);
      const roleEntries = (await ledgerActions(api, tenant.key)).filter((e) =>
        e.resource.startsWith('roles/'),
      );
      assert.deepEqual(roleEntries, [
        { action: 'role.create', resource: 'roles/auditor' },
        { action: 'role.update', resource: 'roles/auditor' },
        { action: 'role.delete', resource: 'roles/auditor' },
      ]);
    });

    test('a role is validated against the permission catalog, naming the bad item', async () => {
      const bad = await api.call('PUT', '/v1/roles/odd', tenant.key, {
        permissions: ['records:read', 'records:delete'],
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 'PALISADE_INVALID_REQUEST');
      assert.equal(bad.body.errors[0].path, '/body/permissions/1');
      const badName = await api.call('PUT', '/v1/roles/Bad%20Name', tenant.key, {
        permissions: [],
      });
      assert.equal(badName.status, 400);
      assert.equal((await api.call('GET', '/v1/roles/odd', tenant.key)).status, 404);
    });

    test('a key acts with its roles; a custom role change applies at once', async () => {
      await api.call('PUT', '/v1/roles/reader', tenant.key, { permissions: ['collections:read'] });
      const key = await keyWith(api, tenant.id, ['reader']);
      assert.equal((await api.call('GET', '/v1/collections', key)).status, 200);
      const denied = await api.call('GET', '/v1/collections/people/records', key);
      assert.equal(denied.status, 403);
      assert.equal(denied.body.code, 'PALISADE_FORBIDDEN');
      assert.match(denied.body.detail, /records:read.*\(reader\)/);
      await api.call('PUT', '/v1/roles/reader', tenant.key, {
        permissions: ['collections:read', 'records:read'],
      });
      assert.equal((await api.call('GET', '/v1/collections/people/records', key)).status, 200);
      await api.call('DELETE', '/v1/roles/reader', tenant.key);
      assert.equal(
        (await api.call('GET', '/v1/collections', key)).status,
        403,
        'a deleted role grants nothing',
      );
    });

    test('roles of one key add up', async () => {
      await api.call('PUT', '/v1/roles/keys-only', tenant.key, { permissions: ['keys:read'] });
      const key = await keyWith(api, tenant.id, ['device', 'keys-only']);
      assert.equal((await api.call('GET', '/v1/keys', key)).status, 200);
      assert.equal((await api.call('GET', '/v1/collections', key)).status, 403);
    });

    test('an RPC request and its answer take rpc:read: devices:read alone is refused', async () => {
      const valve = await api.call('POST', '/v1/devices', tenant.key, { name: 'valve' });
      const sent = await api.call('POST', `/v1/devices/${valve.body.id}/rpc`, tenant.key, {
        method: 'open',
        params: { degrees: 90 },
        persistent: true,
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      const url = `/v1/devices/${valve.body.id}/rpc/${sent.body.id}`;
      await api.call('PUT', '/v1/roles/inventory', tenant.key, { permissions: ['devices:read'] });
      const inventory = await keyWith(api, tenant.id, ['inventory']);
      const viewer = await keyWith(api, tenant.id, ['viewer']);
      assert.equal((await api.call('GET', `/v1/devices/${valve.body.id}`, inventory)).status, 200);
      for (const [key, roles] of [
        [inventory, 'inventory'],
        [viewer, 'viewer'],
      ] as const) {
        const refused = await api.call('GET', url, key);
        assert.equal(refused.status, 403, JSON.stringify(refused.body));
        assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
        assert.equal(refused.body.code, 'PALISADE_FORBIDDEN');
        assert.match(
          refused.body.detail,
          new RegExp(`needs the permission rpc:read.*\\(${roles}\\)`),
        );
        assert.ok(!JSON.stringify(refused.body).includes('degrees'), `${roles} read the params`);
      }
      await api.call('PUT', '/v1/roles/inventory', tenant.key, {
        permissions: ['devices:read', 'rpc:read'],
      });
      const read = await api.call('GET', url, inventory);
      assert.equal(read.status, 200, JSON.stringify(read.body));
      assert.deepEqual(read.body.params, { degrees: 90 });
      const developer = await keyWith(api, tenant.id, ['developer']);
      assert.equal((await api.call('GET', url, developer)).status, 200);
      await api.call('DELETE', '/v1/roles/inventory', tenant.key);
    });

    test('a key cannot be issued with a role the tenant does not have', async () => {
      const refused = await api.call(
        'POST',
        `/v1/platform/tenants/${tenant.id}/api-keys`,
        ADMIN_TOKEN,
        {
          roles: ['viewer', 'ghost'],
        },
      );
      assert.equal(refused.status, 422);
      assert.equal(refused.body.code, 'PALISADE_UNKNOWN_ROLE');
      assert.match(refused.body.detail, /"ghost"/);
      const empty = await api.call(
        'POST',
        `/v1/platform/tenants/${tenant.id}/api-keys`,
        ADMIN_TOKEN,
        {
          roles: [],
        },
      );
      assert.equal(empty.status, 400);
      const keys = await api.call('GET', `/v1/platform/tenants/${tenant.id}/api-keys`, ADMIN_TOKEN);
      assert.ok(keys.body.items.every((k: { roles: string[] }) => !k.roles.includes('ghost')));
    });

    test('a caller gives a service client or a user only roles within its own permissions, custom ones included', async () => {
      const grants = await api.tenant('grants');
      await api.call('PUT', '/v1/roles/key-rotator', grants.key, { permissions: ['keys:rotate'] });
      const admin = await keyWith(api, grants.id, ['admin']);
      const client = (roles: string[]) =>
        api.call('POST', '/v1/clients', admin, { name: roles.join('+'), kind: 'service', roles });
      for (const roles of [['owner'], ['key-rotator'], ['viewer', 'key-rotator']]) {
        const refused = await client(roles);
        assert.equal(refused.status, 403, JSON.stringify(refused.body));
        assert.equal(refused.body.code, 'PALISADE_FORBIDDEN');
        assert.match(refused.body.detail, /^giving the role (owner|key-rotator) needs /);
      }
      const user = (roles: string[], key: string) =>
        api.call('POST', '/v1/users', key, {
          email: `${roles.join('-')}@example.com`,
          name: 'U',
          roles,
        });
      const refusedUser = await user(['viewer', 'key-rotator'], admin);
      assert.equal(refusedUser.status, 403);
      assert.match(refusedUser.body.detail, /^giving the role key-rotator needs keys:rotate/);
      const unknown = await user(['ghost'], grants.key);
      assert.equal(unknown.body.code, 'PALISADE_UNKNOWN_ROLE');
      const rotator = await user(['viewer', 'key-rotator'], grants.key);
      assert.equal(rotator.status, 201, JSON.stringify(rotator.body));
      assert.deepEqual(rotator.body.user.roles, ['viewer', 'key-rotator']);
      // Acting on a user takes every permission the user holds: the admin cannot, the owner can.
      const demote = (key: string) =>
        api.call('PATCH', `/v1/users/${rotator.body.user.id}`, key, { roles: ['viewer'] });
      assert.equal((await demote(admin)).status, 403);
      assert.equal((await demote(grants.key)).status, 200);
      const ownerClient = await api.call('POST', '/v1/clients', grants.key, {
        name: 'owner-client',
        kind: 'service',
        roles: ['owner'],
      });
      const removeByAdmin = await api.call('DELETE', `/v1/clients/${ownerClient.body.id}`, admin);
      assert.equal(removeByAdmin.status, 403);
      assert.match(removeByAdmin.body.detail, /^deleting the client .* needs /);
      assert.equal(
        (await api.call('DELETE', `/v1/clients/${ownerClient.body.id}`, grants.key)).status,
        204,
      );
      assert.equal((await client(['admin'])).status, 201);
      assert.equal((await client(['developer', 'viewer'])).status, 201);
      const listed = await api.call('GET', '/v1/clients', grants.key);
      assert.deepEqual(listed.body.items.map((c: { roles: string[] }) => c.roles).sort(), [
        ['admin'],
        ['developer', 'viewer'],
      ]);
    });

    test('a custom role cannot be made wider than its editor', async () => {
      const grants = await api.tenant('role-editors');
      await api.call('PUT', '/v1/roles/role-editor', grants.key, {
        permissions: ['roles:read', 'roles:write'],
      });
      const editor = await keyWith(api, grants.id, ['role-editor']);
      const widen = await api.call('PUT', '/v1/roles/role-editor', editor, {
        permissions: ['roles:read', 'roles:write', 'keys:rotate'],
      });
      assert.equal(widen.status, 403);
      assert.match(widen.body.detail, /^the role role-editor needs keys:rotate/);
      const other = await api.call('PUT', '/v1/roles/everything', editor, {
        permissions: ['records:read'],
      });
      assert.equal(other.status, 403);
      const within = await api.call('PUT', '/v1/roles/reader', editor, {
        permissions: ['roles:read'],
      });
      assert.equal(within.status, 201);
      const role = await api.call('GET', '/v1/roles/role-editor', grants.key);
      assert.deepEqual(role.body.permissions, ['roles:read', 'roles:write']);
    });

    test('a role editor replaces or deletes only a custom role within its own permissions', async () => {
      const grants = await api.tenant('role-strippers');
      await api.call('PUT', '/v1/roles/role-editor', grants.key, {
        permissions: ['roles:read', 'roles:write', 'records:read'],
      });
      await api.call('PUT', '/v1/roles/key-rotator', grants.key, {
        description: 'rotates data keys',
        permissions: ['keys:read', 'keys:rotate'],
      });
      const rotator = await keyWith(api, grants.id, ['key-rotator']);
      const editor = await keyWith(api, grants.id, ['role-editor']);
      const above = (reply: Reply, what: RegExp) => {
        assert.equal(reply.status, 403, JSON.stringify(reply.body));
        assert.equal(reply.headers['content-type'], 'application/problem+json; charset=utf-8');
        assert.equal(reply.body.code, 'PALISADE_FORBIDDEN');
        assert.match(reply.body.detail, what);
      };
      above(
        await api.call('PUT', '/v1/roles/key-rotator', editor, { permissions: ['records:read'] }),
        /^replacing the role key-rotator needs keys:read, which this credential does not hold/,
      );
      above(
        await api.call('DELETE', '/v1/roles/key-rotator', editor),
        /^deleting the role key-rotator needs keys:read, which this credential does not hold/,
      );
      const kept = await api.call('GET', '/v1/roles/key-rotator', grants.key);
      assert.deepEqual(kept.body.permissions, ['keys:read', 'keys:rotate']);
      assert.equal(kept.body.version, 1);
      assert.equal((await api.call('GET', '/v1/keys', rotator)).status, 200, 'still a rotator');
      assert.equal((await api.call('DELETE', '/v1/roles/no-such-role', editor)).status, 404);
      await api.call('PUT', '/v1/roles/reader', grants.key, { permissions: ['records:read'] });
      const narrowed = await api.call('PUT', '/v1/roles/reader', editor, { permissions: [] });
      assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
      assert.equal((await api.call('DELETE', '/v1/roles/reader', editor)).status, 204);
      const changes = (await ledgerActions(api, grants.key)).filter((e) =>
        e.resource.startsWith('roles/key-rotator'),
      );
      assert.deepEqual(changes, [{ action: 'role.create', resource: 'roles/key-rotator' }]);
    });

    test("a tenant's custom roles are its own", async () => {
      const other = await api.tenant('roles-other');
      await api.call('PUT', '/v1/roles/secret-role', tenant.key, { permissions: ['keys:read'] });
      assert.equal((await api.call('GET', '/v1/roles/secret-role', other.key)).status, 404);
      const listed = await api.call('GET', '/v1/roles', other.key);
      assert.ok(listed.body.items.every((r: { builtIn: boolean }) => r.builtIn));
      const refused = await api.call(
        'POST',
        `/v1/platform/tenants/${other.id}/api-keys`,
        ADMIN_TOKEN,
        {
          roles: ['secret-role'],
        },
      );
      assert.equal(refused.body.code, 'PALISADE_UNKNOWN_ROLE');
    });

    test('a tenant has at most customRolesMax custom roles; replacing one is always allowed', async () => {
      const custom = async () =>
        (await api.call('GET', '/v1/roles', tenant.key)).body.items.filter(
          (r: { builtIn: boolean }) => !r.builtIn,
        ).length;
      for (let i = await custom(); i < ROLES_MAX; i++)
        await api.call('PUT', `/v1/roles/filler-${i}`, tenant.key, { permissions: [] });
      assert.equal(await custom(), ROLES_MAX);
      const refused = await api.call('PUT', '/v1/roles/one-too-many', tenant.key, {
        permissions: [],
      });
      assert.equal(refused.status, 409);
      assert.equal(refused.body.code, 'PALISADE_ROLE_LIMIT');
      assert.equal((await api.call('GET', '/v1/roles/one-too-many', tenant.key)).status, 404);
      const replaced = await api.call('PUT', '/v1/roles/keys-only', tenant.key, {
        permissions: ['keys:read', 'usage:read'],
      });
      assert.equal(replaced.status, 200);
    });
  });
}
