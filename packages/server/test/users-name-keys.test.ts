import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PermissionSet } from '../src/authz/index.ts';
import { GroupCommitter } from '../src/commit/index.ts';
import { uuid7 } from '../src/ids/index.ts';
import type { TenantStore } from '../src/store/index.ts';
import type { Tenant } from '../src/tenancy/index.ts';
import { issueTenantContext } from '../src/tenancy/tenant-context.ts';
import { type SignInNames, tenantSignInNames, UserService } from '../src/users/index.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

for (const backend of backendNames()) {
  describe(`users: name keys on ${backend}`, () => {
    let api: TestApi;
    let tenant: Tenant;

    before(async () => {
      api = await TestApi.start(backend);
      const created = await api.tenant('acme');
      tenant = (await api.platform.stores.controlPlane.getTenant(created.id))!;
    });
    after(() => api.close());

    // A key-cache miss loads the tenant's data keys on a second connection: inside a write
    // transaction that holds one, concurrent writes with cold caches could exhaust the pool.
    test('creating, changing and resetting a user key its name before the write transaction opens', async () => {
      const inner = await api.platform.stores.shards.get(tenant.shard)!.tenant(tenant.id);
      let open = 0;
      const store: TenantStore = {
        tenantId: inner.tenantId,
        reader: inner.reader,
        transaction: async (work) => {
          open++;
          try {
            return await inner.transaction(work);
          } finally {
            open--;
          }
        },
      };
      const real = tenantSignInNames(api.platform.keys);
      const keyedInside: string[][] = [];
      const names: SignInNames = {
        keysOf: async (of, emails) => {
          if (open > 0) keyedInside.push([...emails]);
          return real.keysOf(of, emails);
        },
      };
      const service = new UserService({
        locate: async () => store,
        committer: new GroupCommitter({ maxBatch: 1, maxWaitMs: 0, seal: async () => undefined }),
        invitationTtlMs: api.platform.settings.userInvitationTtlMs,
        roles: api.platform.authz.roles,
        names,
      });
      const context = issueTenantContext(tenant, { kind: 'api-key', id: 'api-key:test' });
      const { user } = await service.create(
        context,
        { email: 'Keyed@Example.com', name: 'Ada', roles: ['developer'] },
        PermissionSet.ALL,
      );
      assert.equal(user.email, 'keyed@example.com');
      const changed = await service.update(context, user.id, { name: 'Ada L.' }, PermissionSet.ALL);
      assert.equal(changed.name, 'Ada L.');
      await service.resetTotp(context, user.id, PermissionSet.ALL);
      await service.invite(context, user.id, PermissionSet.ALL);
      assert.deepEqual(keyedInside, []);
      const missing = await service.update(context, uuid7(), { name: 'x' }, PermissionSet.ALL).then(
        () => undefined,
        (error: { code?: string }) => error.code,
      );
      assert.equal(missing, 'PALISADE_USER_NOT_FOUND');
    });
  });
}
