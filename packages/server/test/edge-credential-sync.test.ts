import assert from 'node:assert/strict';
import { hash, X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { enrolledNode } from './support/edge-nodes.ts';

const pull = (api: TestApi, credential: string, query = ''): Promise<Reply> =>
  api.call('GET', `/v1/edge/device-credentials${query}`, credential);

for (const backend of backendNames()) {
  describe(`edge device credential sync on ${backend}`, () => {
    let api: TestApi;
    let a: { key: string; node: { id: string; credential: string } };
    let b: { key: string; node: { id: string; credential: string } };
    let token: string;
    let deviceId: string;

    before(async () => {
      api = await TestApi.start(backend);
      const ta = await api.tenant('ada');
      const tb = await api.tenant('bob');
      a = { key: ta.key, node: await enrolledNode(api, ta.key, 'ada-gw') };
      b = { key: tb.key, node: await enrolledNode(api, tb.key, 'bob-gw') };
      const device = await api.call('POST', '/v1/devices', a.key, {
        name: 'meter',
        edgeNodeId: a.node.id,
      });
      assert.equal(device.status, 201, JSON.stringify(device.body));
      assert.equal(device.body.edgeNodeId, a.node.id);
      deviceId = device.body.id;
      token = device.body.credentials.token;
      await api.call('POST', '/v1/devices', a.key, { name: 'not-behind-the-edge' });
      const basic = await api.call('POST', `/v1/devices/${deviceId}/credentials`, a.key, {
        type: 'mqtt_basic',
        username: 'meter-1',
        password: 'correct horse battery',
        clientId: 'meter-client',
      });
      assert.equal(basic.status, 201, JSON.stringify(basic.body));
    });
    after(() => api.close());

    test("the node gets its own devices' credential hashes, never a secret", async () => {
      const reply = await pull(api, a.node.credential);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(reply.body.nextCursor, null);
      assert.deepEqual(
        reply.body.items.map((d: { id: string; name: string }) => [d.id, d.name]),
        [[deviceId, 'meter']],
      );
      const [tokenHash, basic] = reply.body.items[0].credentials;
      assert.deepEqual(tokenHash, {
        id: tokenHash.id,
        type: 'access_token',
        tokenSha256: hash('sha256', token, 'base64url'),
      });
      assert.equal(basic.type, 'mqtt_basic');
      assert.equal(basic.username, 'meter-1');
      assert.equal(basic.clientId, 'meter-client');
      assert.match(basic.passwordHash, /^scrypt\$/);
      const text = JSON.stringify(reply.body);
      assert.ok(!text.includes(token) && !text.includes('correct horse'), 'no secret leaves');
    });

    test("the node gets its devices' X.509 fingerprints and its tenant's CAs; B's node none of A's", async () => {
      const ca = await api.call('POST', '/v1/device-cas', a.key, { generate: true });
      assert.equal(ca.status, 201, JSON.stringify(ca.body));
      await api.call('POST', '/v1/device-cas', b.key, { generate: true });
      const issued = await api.call('POST', `/v1/devices/${deviceId}/credentials`, a.key, {
        type: 'x509',
        generate: true,
      });
      assert.equal(issued.status, 201, JSON.stringify(issued.body));
      const fingerprint = new X509Certificate(issued.body.certificate).fingerprint256
        .replaceAll(':', '')
        .toLowerCase();
      const credentials = (await pull(api, a.node.credential)).body.items[0].credentials;
      assert.deepEqual(
        credentials.filter((c: { type: string }) => c.type === 'x509'),
        [{ id: issued.body.id, type: 'x509', fingerprint }],
        'the fingerprint only: no certificate, no key',
      );
      const cas = await api.call('GET', '/v1/edge/device-cas', a.node.credential);
      assert.equal(cas.status, 200, JSON.stringify(cas.body));
      assert.deepEqual(cas.body, { items: [{ id: ca.body.id, certificate: ca.body.certificate }] });
      const theirs = await api.call('GET', '/v1/edge/device-cas', b.node.credential);
      assert.equal(theirs.status, 200);
      assert.equal(theirs.body.items.length, 1);
      assert.notEqual(theirs.body.items[0].id, ca.body.id, "B's node gets B's CA, never A's");
      assert.equal((await api.call('GET', '/v1/edge/device-cas', a.key)).status, 401);
      await api.call('DELETE', `/v1/devices/${deviceId}/credentials/${issued.body.id}`, a.key);
      await api.call('DELETE', `/v1/device-cas/${ca.body.id}`, a.key);
      assert.deepEqual((await api.call('GET', '/v1/edge/device-cas', a.node.credential)).body, {
        items: [],
      });
    });

    test('pages by device id with a cursor', async () => {
      const second = await api.call('POST', '/v1/devices', a.key, {
        name: 'meter-2',
        edgeNodeId: a.node.id,
      });
      const first = await pull(api, a.node.credential, '?limit=1');
      assert.equal(first.body.items.length, 1);
      assert.notEqual(first.body.nextCursor, null);
      const next = await pull(api, a.node.credential, `?limit=1&cursor=${first.body.nextCursor}`);
      assert.deepEqual(
        [...first.body.items, ...next.body.items].map((d: { id: string }) => d.id),
        [deviceId, second.body.id],
      );
      assert.equal(next.body.nextCursor, null);
      await api.call('DELETE', `/v1/devices/${second.body.id}`, a.key);
    });

    test("tenant B's node never receives tenant A's device credentials", async () => {
      const reply = await pull(api, b.node.credential);
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body.items, []);
      // B cannot put its own device behind A's node: A's node reads as one that does not exist.
      const steal = await api.call('POST', '/v1/devices', b.key, {
        name: 'mole',
        edgeNodeId: a.node.id,
      });
      assert.equal(steal.status, 404);
      assert.equal(steal.body.code, 'PALISADE_EDGE_NODE_NOT_FOUND');
      const move = await api.call('PATCH', `/v1/devices/${deviceId}`, b.key, {
        edgeNodeId: b.node.id,
      });
      assert.equal(move.status, 404);
      assert.deepEqual(
        (await pull(api, a.node.credential)).body.items.map((d: { id: string }) => d.id),
        [deviceId],
      );
    });

    test('an unassigned, disabled or unknown node gets nothing', async () => {
      assert.equal((await pull(api, a.key)).status, 401, 'a tenant key is not a node credential');
      await api.call('PATCH', `/v1/devices/${deviceId}`, a.key, { edgeNodeId: null });
      assert.deepEqual((await pull(api, a.node.credential)).body.items, []);
      await api.call('PATCH', `/v1/devices/${deviceId}`, a.key, { edgeNodeId: a.node.id });
      await api.call('PATCH', `/v1/edge-nodes/${a.node.id}`, a.key, { disabled: true });
      const disabled = await pull(api, a.node.credential);
      assert.equal(disabled.status, 403);
      assert.equal(disabled.body.code, 'PALISADE_EDGE_NODE_DISABLED');
      await api.call('PATCH', `/v1/edge-nodes/${a.node.id}`, a.key, { disabled: false });
      assert.equal((await pull(api, a.node.credential)).body.items.length, 1);
    });
  });
}
