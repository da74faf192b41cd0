/**
 * An edge batch is charged to its tenant's plan rate once, by the attempt that applies it, for
 * what it wrote: a commit that fails gets its charge back, a resend racing the first attempt
 * pays nothing, and messages the commit refuses are given back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TenantStore } from '../src/store/index.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { type SigningNode, signedBatch, signingNode } from './support/edge-nodes.ts';
import { steadyWindow } from './support/windows.ts';

/** The usage window: a day, starting at UTC midnight. */
const DAY_MS = 86_400_000;
/** Points the tenant's bucket holds (one point a second for this many seconds). */
const CAPACITY = 1000;
/**
 * Points of the batch under test: the bucket holds two (both attempts of a racing resend are
 * admitted), and a second charge would leave it holding less than CAPACITY - BATCH_POINTS.
 */
const BATCH_POINTS = 400;

/** `target` with `overrides` in place of some members; the others keep `target` as `this`. */
function overriding<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, key) {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof T];
      const value = Reflect.get(object, key);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

for (const backend of backendNames()) {
  describe(`edge batch charges on ${backend}`, () => {
    let api: TestApi;
    const base = Date.now() - 60_000;

    before(async () => {
      api = await TestApi.start(backend, {
        quotaTenantPointsPerSecond: ['*=1'],
        quotaBurstSeconds: String(CAPACITY),
        quotaUsageWindowMs: String(DAY_MS),
      });
    });
    after(() => api.close());

    /**
     * A tenant with an edge node and a device assigned to it, a batch of BATCH_POINTS points
     * the node signed, and `wrapStore`, which has the platform open the tenant's store
     * through `wrap` until the function it returns is called.
     */
    async function edgeTenant(slug: string) {
      const tenant = await api.tenant(slug);
      const node = await signingNode(api, tenant.key);
      const device = await api.call('POST', '/v1/devices', tenant.key, {
        name: 'meter',
        edgeNodeId: node.nodeId,
      });
      const points = Array.from({ length: BATCH_POINTS }, (_, i) => ({
        ts: base + i,
        values: { k: i },
      }));
      const batch = signedBatch(node, 'b1', [
        { deviceId: device.body.id, payload: points, receivedAt: base },
      ]);
      const { shard: shardId } = (await api.platform.stores.controlPlane.getTenant(tenant.id))!;
      const shard = api.platform.stores.shards.get(shardId)!;
      const wrapStore = (wrap: (store: TenantStore) => TenantStore) => {
        const open = shard.tenant;
        shard.tenant = async (id) => {
          const store = await open.call(shard, id);
          return id === tenant.id ? wrap(store) : store;
        };
        return () => {
          shard.tenant = open;
        };
      };
      return { key: tenant.key, node, device: device.body.id as string, points, wrapStore, batch };
    }

    const send = (node: SigningNode, batch: unknown) =>
      api.call('POST', '/v1/edge/batches', node.credential, batch);

    const pointUsage = async (key: string): Promise<{ accepted: number; remaining: number }> => {
      const usage = await api.call('GET', '/v1/usage', key);
      assert.equal(usage.status, 200, JSON.stringify(usage.body));
      return { accepted: usage.body.points.accepted, remaining: usage.body.points.remaining };
    };

    test('a batch whose commit fails is not charged; its resend is, once', async () => {
      await steadyWindow(DAY_MS, 60_000);
      const { key, node, batch, wrapStore } = await edgeTenant('failing');
      const restore = wrapStore((store) =>
        overriding(store, {
          transaction: () => Promise.reject(new Error('injected: the disk is full')),
        }),
      );
      const failed = await send(node, batch);
      restore();
      assert.equal(failed.status, 500, JSON.stringify(failed.body));
      assert.deepEqual(
        await pointUsage(key),
        { accepted: 0, remaining: CAPACITY },
        'a failed commit costs nothing',
      );

      const applied = await send(node, batch);
      assert.equal(applied.status, 200, JSON.stringify(applied.body));
      assert.equal(applied.body.points, BATCH_POINTS);
      const usage = await pointUsage(key);
      assert.equal(usage.accepted, BATCH_POINTS);
      assert.ok(usage.remaining >= CAPACITY - BATCH_POINTS, `charged twice: ${usage.remaining}`);
    });

    test('a resend racing the first attempt gets the same answer and is not charged', async () => {
      await steadyWindow(DAY_MS, 60_000);
      const { key, node, batch, wrapStore } = await edgeTenant('racing');
      // Both attempts find the batch not yet applied before either commits.
      let misses = 0;
      let bothLookedUp!: () => void;
      const lookedUp = new Promise<void>((resolve) => {
        bothLookedUp = resolve;
      });
      const restore = wrapStore((store) => {
        const edge = overriding(store.reader.edge, {
          getBatch: async (nodeId, batchId) => {
            const found = await store.reader.edge.getBatch(nodeId, batchId);
            if (found === undefined && ++misses === 2) bothLookedUp();
            return found;
          },
        });
        return overriding(store, {
          reader: overriding(store.reader, { edge }),
          transaction: async (work) => {
            await lookedUp;
            return store.transaction(work);
          },
        });
      });
      const [first, resent] = await Promise.all([send(node, batch), send(node, batch)]);
      restore();
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.deepEqual(resent.body, first.body, 'the resend is answered as the batch was applied');
      assert.equal(misses, 2);
      const usage = await pointUsage(key);
      assert.equal(usage.accepted, BATCH_POINTS);
      assert.ok(usage.remaining >= CAPACITY - BATCH_POINTS, `charged twice: ${usage.remaining}`);
    });

    test('messages the commit refuses are not charged', async () => {
      await steadyWindow(DAY_MS, 60_000);
      const { key, node, device, points } = await edgeTenant('refused');
      const stranger = await api.call('POST', '/v1/devices', key, { name: 'not the node’s' });
      const strangerPoints = points.slice(0, 300);
      const batch = signedBatch(node, 'b-mixed', [
        { deviceId: device, payload: points, receivedAt: base },
        { deviceId: stranger.body.id, payload: strangerPoints, receivedAt: base },
        {
          deviceId: device,
          payload: [{ ts: 8_640_000_000_000_001, values: { k: 0 } }],
          receivedAt: base,
        },
      ]);
      const applied = await send(node, batch);
      assert.equal(applied.status, 200, JSON.stringify(applied.body));
      assert.equal(applied.body.points, BATCH_POINTS);
      assert.deepEqual(
        applied.body.refused.map((r: { index: number }) => r.index),
        [1, 2],
      );
      const usage = await pointUsage(key);
      assert.equal(usage.accepted, BATCH_POINTS);
      assert.ok(
        usage.remaining >= CAPACITY - BATCH_POINTS,
        `charged for refused messages: ${usage.remaining}`,
      );
    });
  });
}
