/**
 * Making a tenant's KEK, on every backend: two requests that provision the same tenant at once
 * both end with the one KEK that was stored first, and any other failure to store it is the
 * failure the caller sees, not "the keys cannot be opened" (which points at the master key).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Tenant } from '../src/index.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

for (const backend of backendNames()) {
  describe(`tenant KEK provisioning on ${backend}`, () => {
    let api: TestApi;
    before(async () => {
      api = await TestApi.start(backend);
    });
    after(() => api.close());

    /** A tenant in the control plane that has no keys yet. */
    async function keylessTenant(slug: string): Promise<Tenant> {
      const now = new Date().toISOString();
      const tenant: Tenant = {
        id: crypto.randomUUID(),
        slug,
        name: slug,
        plan: 'free',
        status: 'active',
        shard: 's1',
        createdAt: now,
        updatedAt: now,
      };
      await api.platform.stores.controlPlane.insertTenant(tenant);
      return tenant;
    }

    test('two provisionings at once keep the KEK stored first', async () => {
      const tenant = await keylessTenant('racing');
      await Promise.all([api.platform.keys.provision(tenant), api.platform.keys.provision(tenant)]);
      const keks = await api.platform.stores.controlPlane.keys.listKeks(tenant.id);
      assert.deepEqual(
        keks.map((k) => k.version),
        [1],
      );
      const version = await api.platform.keys.withFieldKeys(tenant, [], (k) => k.current.version);
      assert.equal(version, 1);
    });

    test('a store failure while storing the KEK reaches the caller as it is', async (t) => {
      const tenant = await keylessTenant('failing');
      const keys = api.platform.stores.controlPlane.keys;
      t.mock.method(keys, 'insertKek', async () => {
        throw new Error('control plane disk full');
      });
      await assert.rejects(api.platform.keys.provision(tenant), /control plane disk full/);
    });
  });
}
