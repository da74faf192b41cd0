import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { enrolledNode } from './support/edge-nodes.ts';

interface Request {
  requestId: string;
  deviceId: string;
  method: string;
  params: unknown;
  expiresAt: string;
}

/** A request no node confirmed yet: queued, or sent to a node's mailbox. */
const OPEN_UNCONFIRMED = /^(?:queued|sent)$/;

const exchange = (
  api: TestApi,
  credential: string,
  waitMs: number,
  responses: { requestId: string; deviceId: string; response: unknown }[] = [],
  received: string[] = [],
): Promise<Reply> => api.call('POST', '/v1/edge/rpc', credential, { responses, received, waitMs });

/** Polls until the node receives at least one request (each poll waits on the platform). */
async function nextRequests(api: TestApi, credential: string): Promise<Request[]> {
  for (;;) {
    const reply = await exchange(api, credential, 2000);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    if (reply.body.requests.length > 0) return reply.body.requests;
  }
}

for (const backend of backendNames()) {
  describe(`RPC through edge nodes on ${backend}`, () => {
    let api: TestApi;
    let a: { key: string; node: { id: string; credential: string } };
    let b: { key: string; node: { id: string; credential: string } };
    let behind: string;
    let direct: string;

    before(async () => {
      api = await TestApi.start(backend, { edgeRpcAckWaitMs: '300' });
      const ta = await api.tenant('ada');
      const tb = await api.tenant('bob');
      a = { key: ta.key, node: await enrolledNode(api, ta.key, 'ada-gw') };
      b = { key: tb.key, node: await enrolledNode(api, tb.key, 'bob-gw') };
      behind = (
        await api.call('POST', '/v1/devices', a.key, { name: 'valve', edgeNodeId: a.node.id })
      ).body.id;
      direct = (await api.call('POST', '/v1/devices', a.key, { name: 'direct' })).body.id;
    });
    after(() => api.close());

    test('a waiting call reaches the device through the node and completes with its answer', async () => {
      const call = api.call('POST', `/v1/devices/${behind}/rpc`, a.key, {
        method: 'open',
        params: { percent: 40 },
        timeoutMs: 60_000,
      });
      const [request] = await nextRequests(api, a.node.credential);
      assert.ok(request !== undefined);
      assert.equal(request.deviceId, behind);
      assert.equal(request.method, 'open');
      assert.deepEqual(request.params, { percent: 40 });
      assert.ok(Date.parse(request.expiresAt) > Date.now());
      const relayed = await exchange(api, a.node.credential, 0, [
        { requestId: request.requestId, deviceId: behind, response: { opened: 40 } },
      ]);
      assert.deepEqual(relayed.body.results, [
        { requestId: request.requestId, outcome: 'accepted' },
      ]);
      const done = await call;
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.status, 'succeeded');
      assert.deepEqual(done.body.response, { opened: 40 });
      const again = await exchange(api, a.node.credential, 0, [
        { requestId: request.requestId, deviceId: behind, response: { opened: 41 } },
      ]);
      assert.deepEqual(again.body.results, [
        { requestId: request.requestId, outcome: 'not-pending' },
      ]);
    });

    test('a persistent request waits while the link is down and is delivered at the next poll', async () => {
      const queued = await api.call('POST', `/v1/devices/${behind}/rpc`, a.key, {
        method: 'reboot',
        persistent: true,
        timeoutMs: 60_000,
      });
      assert.equal(queued.status, 201);
      // Queued, or handed to the node's mailbox while its link from an earlier poll stands.
      assert.match(queued.body.status, OPEN_UNCONFIRMED);
      const [request] = await nextRequests(api, a.node.credential);
      assert.equal(request?.requestId, queued.body.id);
      assert.equal(request?.expiresAt, queued.body.expiresAt);
      await exchange(api, a.node.credential, 0, [
        { requestId: queued.body.id, deviceId: behind, response: 'ok' },
      ]);
      const answered = await api.call('GET', `/v1/devices/${behind}/rpc/${queued.body.id}`, a.key);
      assert.equal(answered.body.status, 'succeeded');
      assert.equal(answered.body.response, 'ok');
    });

    test('a request whose poll answer never reached the node is handed out again', async () => {
      const queued = await api.call('POST', `/v1/devices/${behind}/rpc`, a.key, {
        method: 'lost',
        persistent: true,
        timeoutMs: 60_000,
      });
      const [lost] = await nextRequests(api, a.node.credential);
      assert.equal(lost?.requestId, queued.body.id);
      const [again] = await nextRequests(api, a.node.credential);
      assert.equal(again?.requestId, queued.body.id, 'not confirmed, so not sent');
      await exchange(api, a.node.credential, 0, [], [queued.body.id]);
      await exchange(api, a.node.credential, 0, [
        { requestId: queued.body.id, deviceId: behind, response: 'found' },
      ]);
      const row = await api.call('GET', `/v1/devices/${behind}/rpc/${queued.body.id}`, a.key);
      assert.equal(row.body.status, 'succeeded');
    });

    test('a request past its deadline is never handed to the node', async () => {
      const queued = await api.call('POST', `/v1/devices/${behind}/rpc`, a.key, {
        method: 'late',
        persistent: true,
        timeoutMs: 1,
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const poll = await exchange(api, a.node.credential, 100);
      assert.deepEqual(poll.body.requests, []);
      const row = await api.call('GET', `/v1/devices/${behind}/rpc/${queued.body.id}`, a.key);
      assert.equal(row.body.status, 'expired');
    });

    test('a device not behind an edge node still fails at once when it is not connected', async () => {
      const reply = await api.call('POST', `/v1/devices/${direct}/rpc`, a.key, { method: 'ping' });
      assert.equal(reply.body.status, 'failed');
    });

    test("tenant B's node never receives tenant A's requests and cannot answer them", async () => {
      const queued = await api.call('POST', `/v1/devices/${behind}/rpc`, a.key, {
        method: 'secret',
        persistent: true,
        timeoutMs: 60_000,
      });
      const poll = await exchange(api, b.node.credential, 200, [
        { requestId: queued.body.id, deviceId: behind, response: 'forged' },
      ]);
      assert.equal(poll.status, 200);
      assert.deepEqual(poll.body.requests, []);
      assert.deepEqual(poll.body.results, [{ requestId: queued.body.id, outcome: 'not-found' }]);
      const row = await api.call('GET', `/v1/devices/${behind}/rpc/${queued.body.id}`, a.key);
      assert.match(row.body.status, OPEN_UNCONFIRMED);
      assert.equal(row.body.response, null);
      assert.equal((await exchange(api, a.key, 0)).status, 401);
      const [request] = await nextRequests(api, a.node.credential);
      assert.equal(request?.requestId, queued.body.id);
    });
  });
}
