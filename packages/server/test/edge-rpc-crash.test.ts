/**
 * An RPC request to a device behind an edge node that a process claimed (sent) and then died
 * with, before the node had it or confirmed it, is handed to the node again once the claim is
 * older than `edgeRpcAckWaitMs`, instead of expiring unanswered: delivery to a node is at
 * least once, and the node takes a request handed out again only once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TenantStore } from '../src/store/index.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { enrolledNode } from './support/edge-nodes.ts';

const ACK_WAIT_MS = 300;

for (const backend of backendNames()) {
  describe(`RPC through an edge node after a crash between claim and delivery on ${backend}`, () => {
    let api: TestApi;
    let key: string;
    let node: { id: string; credential: string };
    let device: string;
    let store: TenantStore;

    before(async () => {
      api = await TestApi.start(backend, { edgeRpcAckWaitMs: String(ACK_WAIT_MS) });
      const tenant = await api.tenant('crashy');
      key = tenant.key;
      node = await enrolledNode(api, key, 'gw');
      const made = await api.call('POST', '/v1/devices', key, {
        name: 'valve',
        edgeNodeId: node.id,
      });
      device = made.body.id;
      const row = (await api.platform.stores.controlPlane.getTenant(tenant.id))!;
      store = await api.platform.stores.shards.get(row.shard)!.tenant(tenant.id);
    });
    after(() => api.close());

    /** Claims the request as a process does before handing it out, and then dies. */
    const claimAndDie = (id: string, at: Date) =>
      store.transaction((tx) =>
        tx.devices.updateRpc(device, id, ['queued'], { status: 'sent' }, at.toISOString()),
      );
    const poll = (waitMs: number, received: string[] = []) =>
      api.call('POST', '/v1/edge/rpc', node.credential, { responses: [], received, waitMs });

    test('a claim nobody confirmed is handed to the node again, and the request completes', async () => {
      const queued = await api.call('POST', `/v1/devices/${device}/rpc`, key, {
        method: 'close',
        persistent: true,
        timeoutMs: 60_000,
      });
      assert.equal(queued.status, 201, JSON.stringify(queued.body));
      const recent = await api.call('POST', `/v1/devices/${device}/rpc`, key, {
        method: 'open',
        persistent: true,
        timeoutMs: 60_000,
      });
      assert.ok(await claimAndDie(queued.body.id, new Date(Date.now() - 2 * ACK_WAIT_MS)));
      // Claimed just now: the process that claimed it may still be waiting for the node.
      assert.ok(await claimAndDie(recent.body.id, new Date()));

      const first = await poll(500);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.deepEqual(
        first.body.requests.map((r: { requestId: string }) => r.requestId),
        [queued.body.id],
        'the stale claim goes out again; the fresh one is left to its process',
      );
      await poll(0, [queued.body.id]);
      const answered = await api.call('POST', '/v1/edge/rpc', node.credential, {
        responses: [{ requestId: queued.body.id, deviceId: device, response: 'closed' }],
        received: [],
        waitMs: 0,
      });
      assert.deepEqual(answered.body.results, [{ requestId: queued.body.id, outcome: 'accepted' }]);
      const row = await api.call('GET', `/v1/devices/${device}/rpc/${queued.body.id}`, key);
      assert.equal(row.body.status, 'succeeded');
      assert.equal(row.body.response, 'closed');
    });
  });
}
