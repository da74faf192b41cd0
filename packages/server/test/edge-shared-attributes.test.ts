import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { enrolledNode } from './support/edge-nodes.ts';

interface Shared {
  digest: string;
  complete: boolean;
  devices: { deviceId: string; attributes: Record<string, unknown> }[];
}

/** A poll of the node's exchange that keeps a copy of shared attributes named by `digest`. */
const poll = (api: TestApi, credential: string, digest: string, waitMs: number): Promise<Reply> =>
  api.call('POST', '/v1/edge/rpc', credential, {
    responses: [],
    received: [],
    waitMs,
    sharedDigest: digest,
  });

/** `{deviceId: attributes}` of an update, to compare regardless of order. */
const byDevice = (shared: Shared) =>
  Object.fromEntries(shared.devices.map((d) => [d.deviceId, d.attributes]));

for (const backend of backendNames()) {
  describe(`shared attributes through edge nodes on ${backend}`, () => {
    let api: TestApi;
    let a: { key: string; node: { id: string; credential: string } };
    let b: { key: string; node: { id: string; credential: string } };
    let eco: string;
    let bare: string;
    let direct: string;
    let theirs: string;

    const device = async (key: string, name: string, fields: Record<string, unknown>) => {
      const made = await api.call('POST', '/v1/devices', key, { name, ...fields });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return made.body.id as string;
    };
    const patch = async (id: string, body: Record<string, unknown>, key = a.key) =>
      assert.equal((await api.call('PATCH', `/v1/devices/${id}`, key, body)).status, 200);

    before(async () => {
      api = await TestApi.start(backend);
      const ta = await api.tenant('ada');
      const tb = await api.tenant('bob');
      a = { key: ta.key, node: await enrolledNode(api, ta.key, 'ada-gw') };
      b = { key: tb.key, node: await enrolledNode(api, tb.key, 'bob-gw') };
      eco = await device(a.key, 'eco', {
        edgeNodeId: a.node.id,
        attributes: { mode: 'eco', level: 1 },
      });
      bare = await device(a.key, 'bare', { edgeNodeId: a.node.id });
      direct = await device(a.key, 'direct', { attributes: { mode: 'x' } });
      theirs = await device(b.key, 'theirs', {
        edgeNodeId: b.node.id,
        attributes: { secret: 'b' },
      });
    });
    after(() => api.close());

    test("a node's poll brings all its devices' shared attributes at once, then each committed change", async () => {
      const first = await poll(api, a.node.credential, '', 10_000);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const all = first.body.shared as Shared;
      assert.equal(all.complete, true);
      assert.deepEqual(byDevice(all), { [eco]: { mode: 'eco', level: 1 }, [bare]: {} });
      const settled = await poll(api, a.node.credential, all.digest, 100);
      assert.equal(settled.body.shared, undefined, 'the copy matches: nothing to send');

      const waiting = poll(api, a.node.credential, all.digest, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = Date.now();
      await patch(eco, { attributes: { mode: 'boost' } });
      const woken = await waiting;
      assert.ok(Date.now() - started < 10_000, 'the change ended the poll');
      const change = woken.body.shared as Shared;
      assert.equal(change.complete, false);
      assert.deepEqual(change.devices, [{ deviceId: eco, attributes: { mode: 'boost' } }]);
      assert.equal((await poll(api, a.node.credential, change.digest, 100)).body.shared, undefined);

      await patch(direct, { attributes: { mode: 'y' } });
      const quiet = await poll(api, a.node.credential, change.digest, 300);
      assert.equal(quiet.body.shared, undefined, 'a device not behind the node wakes nothing');

      const behind = await poll(api, a.node.credential, all.digest, 10_000);
      assert.equal(behind.body.shared.complete, true, 'an old copy gets all of it again');
      assert.deepEqual(byDevice(behind.body.shared), { [eco]: { mode: 'boost' }, [bare]: {} });
      assert.equal(behind.body.shared.digest, change.digest);
    });

    test('a device moved off the node leaves its copy; one moved onto it joins', async () => {
      const { digest } = (await poll(api, a.node.credential, '', 100)).body.shared as Shared;
      await patch(bare, { edgeNodeId: null });
      await patch(direct, { edgeNodeId: a.node.id });
      const moved = (await poll(api, a.node.credential, digest, 10_000)).body.shared as Shared;
      assert.equal(moved.complete, true);
      assert.deepEqual(byDevice(moved), { [eco]: { mode: 'boost' }, [direct]: { mode: 'y' } });
      await patch(direct, { edgeNodeId: null });
      await patch(bare, { edgeNodeId: a.node.id });
    });

    test('a node that keeps no copy gets no shared attributes', async () => {
      const reply = await api.call('POST', '/v1/edge/rpc', a.node.credential, {
        responses: [],
        received: [],
        waitMs: 100,
      });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.shared, undefined);
    });

    test("tenant B's node never hears of tenant A's devices, nor another node of A of the first's", async () => {
      const own = (await poll(api, b.node.credential, '', 100)).body.shared as Shared;
      assert.deepEqual(byDevice(own), { [theirs]: { secret: 'b' } });
      const other = await enrolledNode(api, a.key, 'ada-gw-2');
      const empty = (await poll(api, other.credential, '', 100)).body.shared as Shared;
      assert.deepEqual(empty.devices, []);
      const bWaits = poll(api, b.node.credential, own.digest, 1500);
      const otherWaits = poll(api, other.credential, empty.digest, 1500);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await patch(eco, { attributes: { mode: 'eco', level: 2 } });
      assert.equal((await bWaits).body.shared, undefined);
      assert.equal((await otherWaits).body.shared, undefined);
      const forged = await api.call('POST', '/v1/edge/rpc', b.key, {
        responses: [],
        received: [],
        waitMs: 0,
        sharedDigest: '',
      });
      assert.equal(forged.status, 401, "a tenant key is no node's credential");
    });
  });
}
