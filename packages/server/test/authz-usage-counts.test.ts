/**
 * GET /v1/usage/objects counts only the devices and collections its caller may read, each
 * decided as GET /v1/devices and GET /v1/collections decide it: a device or collection a policy
 * forbids the caller is not counted, so the count tells of no item a listing hides; a caller
 * without devices:read or collections:read counts none of them; an owner counts every one.
 * The store's count answers when no policy can tell one item from another (the tenant has no
 * policies, or the caller lacks the permission): only policies make it walk the items.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TenantReader } from '../src/store/index.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { keyWith } from './support/graphql.ts';

/** The tenant's device and collection listings and counts read from its store, from now on. */
function storeReads(api: TestApi, tenantId: string) {
  const reads = { listDevices: 0, countDevices: 0, listCollections: 0, countCollections: 0 };
  const counted = new WeakSet<TenantReader>();
  const spy = (reader: TenantReader) => {
    if (counted.has(reader)) return;
    counted.add(reader);
    const { devices } = reader;
    const listDevices = devices.listDevices.bind(devices);
    const countDevices = devices.countDevices.bind(devices);
    const listCollections = reader.listCollections.bind(reader);
    const countCollections = reader.countCollections.bind(reader);
    devices.listDevices = (page) => {
      reads.listDevices++;
      return listDevices(page);
    };
    devices.countDevices = () => {
      reads.countDevices++;
      return countDevices();
    };
    reader.listCollections = (page) => {
      reads.listCollections++;
      return listCollections(page);
    };
    reader.countCollections = () => {
      reads.countCollections++;
      return countCollections();
    };
  };
  for (const shard of api.platform.stores.shards.values()) {
    const tenant = shard.tenant.bind(shard);
    shard.tenant = async (id) => {
      const store = await tenant(id);
      if (id === tenantId) spy(store.reader);
      return store;
    };
  }
  return reads;
}

for (const backend of backendNames()) {
  describe(`object counts under policies that forbid items, on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };
    let hiddenDevice: string;

    before(async () => {
      api = await TestApi.start(backend);
      tenant = await api.tenant('usage-counts');
      for (const name of ['salaries', 'notes'])
        assert.equal(
          (
            await api.call('PUT', `/v1/collections/${name}`, tenant.key, {
              schema: { type: 'object' },
            })
          ).status,
          201,
        );
      const ids: string[] = [];
      for (const name of ['a', 'b', 'c'])
        ids.push((await api.call('POST', '/v1/devices', tenant.key, { name })).body.id);
      hiddenDevice = ids[1]!;
    });
    after(() => api.close());

    const counts = async (key: string) => {
      const reply = await api.call('GET', '/v1/usage/objects', key);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return [reply.body.devices.count, reply.body.collections.count];
    };

    test('a device or collection the caller may not read is not counted', async () => {
      const admin = await keyWith(api, tenant.id, ['admin']);
      assert.deepEqual(await counts(admin), [3, 2], 'without policies, everything');
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"admin", action == Palisade::Action::"collections:read", resource == Palisade::Collection::"salaries");
forbid (principal in Palisade::Role::"admin", action == Palisade::Action::"devices:read", resource == Palisade::Device::"${hiddenDevice}");`,
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      try {
        assert.equal((await api.call('GET', `/v1/devices/${hiddenDevice}`, admin)).status, 403);
        assert.deepEqual(await counts(admin), [2, 1], 'the forbidden ones are not counted');
        assert.deepEqual(await counts(tenant.key), [3, 2], 'an owner counts them');
      } finally {
        await api.call('DELETE', '/v1/policies', tenant.key);
      }
    });

    test('without policies, or without the permission, the store counts and no item is read', async () => {
      const admin = await keyWith(api, tenant.id, ['admin']);
      assert.equal(
        (await api.call('PUT', '/v1/roles/meter-only', tenant.key, { permissions: ['usage:read'] }))
          .status,
        201,
      );
      const meter = await keyWith(api, tenant.id, ['meter-only']);
      const reads = storeReads(api, tenant.id);
      assert.deepEqual(await counts(admin), [3, 2]);
      assert.deepEqual(await counts(meter), [0, 0]);
      assert.deepEqual(reads, {
        listDevices: 0,
        countDevices: 1,
        listCollections: 0,
        countCollections: 1,
      });
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"admin", action == Palisade::Action::"devices:read", resource == Palisade::Device::"${hiddenDevice}");`,
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      try {
        assert.deepEqual(await counts(admin), [2, 2], 'policies: each item decided');
        assert.ok(reads.listDevices >= 1 && reads.listCollections >= 1, JSON.stringify(reads));
        assert.deepEqual(await counts(meter), [0, 0], 'no permission: none, whatever the policies');
      } finally {
        await api.call('DELETE', '/v1/policies', tenant.key);
      }
    });

    test('a caller that may read no device nor collection counts none', async () => {
      assert.equal(
        (await api.call('PUT', '/v1/roles/metering', tenant.key, { permissions: ['usage:read'] }))
          .status,
        201,
      );
      assert.deepEqual(await counts(await keyWith(api, tenant.id, ['metering'])), [0, 0]);
    });
  });
}
