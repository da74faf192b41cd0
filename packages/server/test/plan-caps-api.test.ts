/**
 * Per-plan caps on how many devices and collections a tenant holds (`quotaDevicesMax`,
 * `quotaCollectionsMax`): a create at the cap is refused with PALISADE_PLAN_LIMIT_REACHED and
 * writes nothing, replacing a collection never is, and concurrent creations through separate
 * group committers (as separate processes would: on PostgreSQL each on its own connection)
 * never pass the cap.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GroupCommitter } from '../src/commit/index.ts';
import { DeviceRegistry, DeviceWrites } from '../src/devices/index.ts';
import { ObjectCaps, planLimits } from '../src/quotas/index.ts';
import { CollectionService, SchemaRegistry, storeLocator } from '../src/records/index.ts';
import { issueTenantContext } from '../src/tenancy/tenant-context.ts';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

const DEVICES_MAX = 3;
const COLLECTIONS_MAX = 2;
/** Concurrent creations racing for the last place. */
const RACERS = 6;

function assertPlanLimit(reply: Reply, limit: 'devicesMax' | 'collectionsMax', count: number) {
  assert.equal(reply.status, 403, JSON.stringify(reply.body));
  assert.equal(reply.body.code, 'PALISADE_PLAN_LIMIT_REACHED');
  assert.equal(reply.body.type, 'urn:palisade:error:PALISADE_PLAN_LIMIT_REACHED');
  assert.deepEqual(reply.body.errors, [{ path: '', message: limit }]);
  assert.match(reply.body.detail, new RegExp(`has ${count} .*\\(${limit} ${count}\\)`));
  assert.match(reply.body.detail, new RegExp(`higher ${limit}$`));
}

for (const backend of backendNames()) {
  describe(`plan caps on devices and collections (${backend})`, () => {
    let api: TestApi;

    const onPlan = async (slug: string, plan: string) => {
      const tenant = await api.tenant(slug);
      const patched = await api.call('PATCH', `/v1/platform/tenants/${tenant.id}`, ADMIN_TOKEN, {
        plan,
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      return tenant;
    };
    const createDevice = (key: string, name: string) =>
      api.call('POST', '/v1/devices', key, { name });
    const putCollection = (key: string, name: string, schema: object = PEOPLE_SCHEMA) =>
      api.call('PUT', `/v1/collections/${name}`, key, { schema });
    const deviceNames = async (key: string): Promise<string[]> => {
      const list = await api.call('GET', '/v1/devices?limit=1000', key);
      assert.equal(list.status, 200);
      return list.body.items.map((d: { name: string }) => d.name).sort();
    };
    const collectionNames = async (key: string): Promise<string[]> => {
      const list = await api.call('GET', '/v1/collections', key);
      assert.equal(list.status, 200);
      return list.body.items.map((c: { name: string }) => c.name).sort();
    };
    const ledgerSize = async (key: string): Promise<number> =>
      (await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key)).body.entries.length;
    /** A context for the tenant as authentication would make it, for the service-level races. */
    const contextOf = async (id: string) => {
      const tenant = (await api.platform.stores.controlPlane.getTenant(id))!;
      return issueTenantContext(tenant, { kind: 'api-key', id: 'race-test' });
    };
    /** A registry and a collection service with a group committer of their own: one "process". */
    const oneProcess = () => {
      const { stores, settings } = api.platform;
      const locate = storeLocator(stores.shards);
      const committer = new GroupCommitter({
        maxBatch: 16,
        maxWaitMs: 0,
        seal: async () => undefined,
      });
      const caps = new ObjectCaps({ limitsOf: planLimits(settings) });
      return {
        registry: new DeviceRegistry(
          new DeviceWrites(locate, committer, stores.controlPlane.devices, () => {}),
          stores.controlPlane.devices,
          caps,
          settings.gatewayChildrenMax,
        ),
        collections: new CollectionService(locate, committer, new SchemaRegistry(), caps),
      };
    };

    before(async () => {
      api = await TestApi.start(backend, {
        quotaDevicesMax: ['*=0', `capped=${DEVICES_MAX}`],
        quotaCollectionsMax: ['*=0', `capped=${COLLECTIONS_MAX}`],
      });
    });
    after(() => api.close());

    test('at the device cap the next create is refused and writes nothing; a delete makes room', async () => {
      const t = await onPlan('devices-capped', 'capped');
      const made: string[] = [];
      for (let i = 1; i <= DEVICES_MAX; i++) {
        const reply = await createDevice(t.key, `d${i}`);
        assert.equal(reply.status, 201, JSON.stringify(reply.body));
        made.push(reply.body.id);
      }
      const entries = await ledgerSize(t.key);
      assertPlanLimit(await createDevice(t.key, 'one-too-many'), 'devicesMax', DEVICES_MAX);
      assert.deepEqual(await deviceNames(t.key), ['d1', 'd2', 'd3']);
      assert.equal(await ledgerSize(t.key), entries, 'no ledger entry for a refused create');

      const removed = await api.call('DELETE', `/v1/devices/${made[0]}`, t.key);
      assert.equal(removed.status, 204);
      assert.equal((await createDevice(t.key, 'one-too-many')).status, 201, 'room again');
      assertPlanLimit(await createDevice(t.key, 'd5'), 'devicesMax', DEVICES_MAX);
    });

    test('self-provisioning at the cap is refused, and its key stays unused for later', async () => {
      const t = await onPlan('provisioned', 'capped');
      for (let i = 1; i <= DEVICES_MAX - 1; i++)
        assert.equal((await createDevice(t.key, `d${i}`)).status, 201);
      const issued = await api.call('POST', '/v1/provisioning-keys', t.key);
      const provision = (deviceName: string) =>
        api.call('POST', '/api/v1/provision', undefined, {
          deviceName,
          provisionDeviceKey: issued.body.key,
        });
      const last = await createDevice(t.key, 'last');
      assert.equal(last.status, 201);
      const entries = await ledgerSize(t.key);
      assertPlanLimit(await provision('self'), 'devicesMax', DEVICES_MAX);
      assert.equal(await ledgerSize(t.key), entries);
      assert.equal((await api.call('DELETE', `/v1/devices/${last.body.id}`, t.key)).status, 204);
      const provisioned = await provision('self');
      assert.equal(provisioned.status, 201, JSON.stringify(provisioned.body));
      assert.deepEqual(await deviceNames(t.key), ['d1', 'd2', 'self']);
    });

    test('at the collection cap a new one is refused, replacing one is not', async () => {
      const t = await onPlan('collections-capped', 'capped');
      assert.equal((await putCollection(t.key, 'a')).status, 201);
      assert.equal((await putCollection(t.key, 'b')).status, 201);
      const entries = await ledgerSize(t.key);
      assertPlanLimit(await putCollection(t.key, 'c'), 'collectionsMax', COLLECTIONS_MAX);
      assert.deepEqual(await collectionNames(t.key), ['a', 'b']);
      assert.equal(await ledgerSize(t.key), entries, 'no ledger entry for a refused create');

      const replaced = await putCollection(t.key, 'b', { ...PEOPLE_SCHEMA, description: 'v2' });
      assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
      assert.equal(replaced.body.version, 2);

      const graphql = await api.call('POST', '/v1/graphql', t.key, {
        query: 'mutation { defineCollection(name: "c", schema: {type: "object"}) { created } }',
      });
      assert.equal(graphql.body.errors?.[0]?.extensions?.code, 'PALISADE_PLAN_LIMIT_REACHED');
      assert.deepEqual(await collectionNames(t.key), ['a', 'b']);
    });

    test('other plans and other tenants are unaffected', async () => {
      const full = await onPlan('full', 'capped');
      for (let i = 1; i <= DEVICES_MAX; i++) await createDevice(full.key, `d${i}`);
      for (const name of ['a', 'b']) await putCollection(full.key, name);
      assertPlanLimit(await createDevice(full.key, 'd4'), 'devicesMax', DEVICES_MAX);

      const neighbour = await onPlan('neighbour', 'capped');
      for (let i = 1; i <= DEVICES_MAX; i++)
        assert.equal((await createDevice(neighbour.key, `d${i}`)).status, 201);
      assert.equal((await putCollection(neighbour.key, 'a')).status, 201);

      const free = await api.tenant('unlimited');
      for (let i = 1; i <= DEVICES_MAX + 2; i++)
        assert.equal((await createDevice(free.key, `d${i}`)).status, 201);
      for (const name of ['a', 'b', 'c', 'd'])
        assert.equal((await putCollection(free.key, name)).status, 201);
    });

    test('GET /v1/usage reports the caps and what the tenant holds', async () => {
      const t = await onPlan('counted', 'capped');
      await createDevice(t.key, 'd1');
      await putCollection(t.key, 'a');
      await putCollection(t.key, 'a');
      const usage = await api.call('GET', '/v1/usage', t.key);
      assert.equal(usage.status, 200, JSON.stringify(usage.body));
      assert.equal(usage.body.plan, 'capped');
      assert.equal(usage.body.limits.devicesMax, DEVICES_MAX);
      assert.equal(usage.body.limits.collectionsMax, COLLECTIONS_MAX);
      const held = await api.call('GET', '/v1/usage/objects', t.key);
      assert.equal(held.status, 200, JSON.stringify(held.body));
      assert.deepEqual(held.body, {
        tenant: t.id,
        devices: { count: 1, max: DEVICES_MAX },
        collections: { count: 1, max: COLLECTIONS_MAX },
      });

      const free = await api.tenant('counted-free');
      const other = await api.call('GET', '/v1/usage', free.key);
      assert.equal(other.body.limits.devicesMax, 0);
      assert.deepEqual((await api.call('GET', '/v1/usage/objects', free.key)).body, {
        tenant: free.id,
        devices: { count: 0, max: 0 },
        collections: { count: 0, max: 0 },
      });

      const doc = await api.call('GET', '/v1/openapi.json', undefined);
      const schema =
        doc.body.paths['/v1/usage'].get.responses['200'].content['application/json'].schema;
      const heldSchema =
        doc.body.paths['/v1/usage/objects'].get.responses['200'].content['application/json'].schema;
      assert.deepEqual(heldSchema.required, ['tenant', 'devices', 'collections']);
      assert.ok(schema.properties.limits.required.includes('devicesMax'));
      assert.ok(schema.properties.limits.required.includes('collectionsMax'));
    });

    test(`${RACERS} concurrent creates at the cap less one leave exactly the cap`, async () => {
      const t = await onPlan('racing', 'capped');
      for (let i = 1; i < DEVICES_MAX; i++) await createDevice(t.key, `d${i}`);
      await putCollection(t.key, 'a');
      const context = await contextOf(t.id);
      const processes = Array.from({ length: RACERS }, oneProcess);
      const outcomes = await Promise.allSettled([
        ...processes.map((p, i) => p.registry.create(context, { name: `racer-${i}` })),
        createDevice(t.key, 'racer-api').then((reply) =>
          reply.status === 201 ? reply : Promise.reject(reply.body),
        ),
      ]);
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      assert.equal(won.length, 1, JSON.stringify(outcomes));
      for (const lost of outcomes.filter((o) => o.status === 'rejected'))
        assert.equal(lost.reason.code, 'PALISADE_PLAN_LIMIT_REACHED', String(lost.reason));
      assert.equal((await deviceNames(t.key)).length, DEVICES_MAX);

      const defined = await Promise.allSettled(
        processes.map((p, i) =>
          p.collections.put(
            context,
            `c${i}`,
            { schema: { type: 'object' }, encrypted: [] },
            { every: () => true },
          ),
        ),
      );
      assert.equal(defined.filter((o) => o.status === 'fulfilled').length, 1);
      assert.equal((await collectionNames(t.key)).length, COLLECTIONS_MAX);

      // Concurrent definitions of one new name at the cap less one: one creates, the others
      // replace what it created, none is refused.
      const u = await onPlan('racing-same', 'capped');
      await putCollection(u.key, 'a');
      const same = await contextOf(u.id);
      const replaced = await Promise.all(
        processes.map((p) =>
          p.collections.put(
            same,
            'shared',
            { schema: { type: 'object' }, encrypted: [] },
            { every: () => true },
          ),
        ),
      );
      assert.equal(replaced.filter((r) => r.created).length, 1);
      assert.deepEqual(await collectionNames(u.key), ['a', 'shared']);
    });

    test('refusals are counted by kind in /metrics, never by tenant', async () => {
      const text = String((await api.call('GET', '/metrics', undefined)).body);
      const count = (kind: string) =>
        Number(
          new RegExp(`palisade_plan_limit_refusals_total\\{kind="${kind}"\\} (\\d+)`).exec(
            text,
          )?.[1],
        );
      assert.ok(count('devices') >= 4, text);
      assert.ok(count('collections') >= 2, text);
      assert.doesNotMatch(text, /palisade_plan_limit_refusals_total\{[^}]*tenant/);
    });
  });
}
