import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TenantAdmin } from '../src/control/index.ts';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { tenantLeftovers } from './support/tenant-leftovers.ts';

for (const backend of backendNames()) {
  describe(`platform admin API on ${backend}`, () => {
    let api: TestApi;
    before(async () => {
      api = await TestApi.start(backend);
    });
    after(() => api.close());

    test('tenants are created with a UUIDv7 id on the least-loaded shard, listed and shown', async () => {
      const a = await api.call('POST', '/v1/platform/tenants', ADMIN_TOKEN, {
        slug: 'alpha',
        name: 'Alpha',
        plan: 'pro',
      });
      assert.equal(a.status, 201);
      assert.match(
        a.body.id,
        /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      assert.equal(a.body.status, 'active');
      assert.equal(a.body.plan, 'pro');
      const b = await api.call('POST', '/v1/platform/tenants', ADMIN_TOKEN, {
        slug: 'beta',
        name: 'Beta',
      });
      assert.equal(b.body.plan, 'free');
      assert.notEqual(a.body.shard, b.body.shard, 'the second tenant goes to the emptier shard');
      const dup = await api.call('POST', '/v1/platform/tenants', ADMIN_TOKEN, {
        slug: 'alpha',
        name: 'Again',
      });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.code, 'PALISADE_SLUG_TAKEN');
      const list = await api.call('GET', '/v1/platform/tenants?limit=1', ADMIN_TOKEN);
      assert.equal(list.body.items.length, 1);
      const next = await api.call(
        'GET',
        `/v1/platform/tenants?limit=1&cursor=${list.body.nextCursor}`,
        ADMIN_TOKEN,
      );
      assert.equal(next.body.items[0].id, b.body.id);
      const shown = await api.call('GET', `/v1/platform/tenants/${a.body.id}`, ADMIN_TOKEN);
      assert.deepEqual(shown.body, a.body);
    });

    test('a tenant is placed only on a shard this process has open', async () => {
      // Registered by another process, or by this one before its settings dropped it.
      await api.platform.stores.controlPlane.registerShards([
        { id: 'a-retired', location: '/nowhere' },
      ]);
      const created = await api.call('POST', '/v1/platform/tenants', ADMIN_TOKEN, {
        slug: 'placed',
        name: 'Placed',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.ok(api.platform.stores.shards.has(created.body.shard), created.body.shard);
    });

    test('suspension answers 403 PALISADE_TENANT_SUSPENDED; resuming restores access', async () => {
      const t = await api.tenant('gamma');
      assert.equal((await api.call('GET', '/v1/collections', t.key)).status, 200);
      const suspended = await api.call('PATCH', `/v1/platform/tenants/${t.id}`, ADMIN_TOKEN, {
        status: 'suspended',
      });
      assert.equal(suspended.body.status, 'suspended');
      const refused = await api.call('GET', '/v1/collections', t.key);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.code, 'PALISADE_TENANT_SUSPENDED');
      await api.call('PATCH', `/v1/platform/tenants/${t.id}`, ADMIN_TOKEN, { status: 'active' });
      assert.equal((await api.call('GET', '/v1/collections', t.key)).status, 200);
    });

    test('API keys: the secret is shown once, listed without it, and revocation is immediate', async () => {
      const t = await api.tenant('delta');
      const second = await api.call('POST', `/v1/platform/tenants/${t.id}/api-keys`, ADMIN_TOKEN, {
        name: 'ci',
      });
      assert.match(second.body.secret, /^pk_[A-Za-z0-9_-]{43}$/);
      const listed = await api.call('GET', `/v1/platform/tenants/${t.id}/api-keys`, ADMIN_TOKEN);
      assert.equal(listed.body.items.length, 2);
      assert.ok(!JSON.stringify(listed.body).includes(second.body.secret));
      assert.ok(!JSON.stringify(listed.body).includes('secret'));
      const revoked = await api.call(
        'DELETE',
        `/v1/platform/tenants/${t.id}/api-keys/${second.body.id}`,
        ADMIN_TOKEN,
      );
      assert.equal(revoked.status, 204);
      const refused = await api.call('GET', '/v1/collections', second.body.secret);
      assert.equal(refused.status, 401);
      assert.equal(
        (await api.call('GET', '/v1/collections', t.key)).status,
        200,
        'the other key still works',
      );
      const again = await api.call(
        'DELETE',
        `/v1/platform/tenants/${t.id}/api-keys/${second.body.id}`,
        ADMIN_TOKEN,
      );
      assert.equal(again.status, 404);
      assert.equal(again.body.code, 'PALISADE_API_KEY_NOT_FOUND');
    });

    test('deleting a tenant stops its keys and removes its data', async () => {
      const t = await api.tenant('epsilon');
      await api.call('PUT', '/v1/collections/things', t.key, { schema: { type: 'object' } });
      const deleted = await api.call('DELETE', `/v1/platform/tenants/${t.id}`, ADMIN_TOKEN);
      assert.equal(deleted.status, 204);
      assert.equal((await api.call('GET', '/v1/collections', t.key)).status, 401);
      const shown = await api.call('GET', `/v1/platform/tenants/${t.id}`, ADMIN_TOKEN);
      assert.equal(shown.body.status, 'deleted');
      const patch = await api.call('PATCH', `/v1/platform/tenants/${t.id}`, ADMIN_TOKEN, {
        status: 'active',
      });
      assert.equal(patch.status, 409);
      assert.equal(patch.body.code, 'PALISADE_TENANT_DELETED');
      const shard = api.platform.stores.shards.get(shown.body.shard)!;
      await assert.rejects(shard.tenant(t.id), { code: 'PALISADE_TENANT_DELETED' });
      // Nothing of it is left in the shard (tenant-drop-writers.test.ts: nor can it come back).
      assert.deepEqual(await tenantLeftovers(shard.location, t.id), []);
    });

    test('credentials stay in their lane', async () => {
      const t = await api.tenant('zeta');
      const adminOnTenantRoute = await api.call('GET', '/v1/collections', ADMIN_TOKEN);
      assert.equal(adminOnTenantRoute.status, 403);
      assert.equal(adminOnTenantRoute.body.code, 'PALISADE_FORBIDDEN');
      const tenantOnAdminRoute = await api.call('GET', '/v1/platform/tenants', t.key);
      assert.equal(tenantOnAdminRoute.status, 403);
      for (const auth of [
        undefined,
        'Bearer',
        'Basic abc',
        `Bearer ${'p'.repeat(40)}`,
        `Bearer ${t.key}x`,
      ]) {
        const response = await api.http.inject({
          method: 'GET',
          url: '/v1/collections',
          headers: auth === undefined ? {} : { authorization: auth },
        });
        assert.equal(response.statusCode, 401, String(auth));
        assert.equal(response.json().code, 'PALISADE_UNAUTHENTICATED');
        assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      }
    });
  });
}

test('with none of its open shards registered, a process places no tenant and says why', async () => {
  const inserted: unknown[] = [];
  const controlPlane = {
    leastLoadedShard: async () => undefined,
    beginTenantCreation: async (tenant: unknown) => void inserted.push(tenant),
  };
  const shards = new Map([['s1', {}]]);
  const admin = new TenantAdmin({
    controlPlane: controlPlane as never,
    shards: shards as never,
    committer: {} as never,
    onCredentialsChanged: () => {},
    roles: {} as never,
  });
  await assert.rejects(admin.create({ slug: 'nowhere', name: 'Nowhere' }), {
    code: 'PALISADE_INTERNAL',
    message: /none of the shards this process has open \(s1\) is registered/,
  });
  assert.deepEqual(inserted, []);
});
