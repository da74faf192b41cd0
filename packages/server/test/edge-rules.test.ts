import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { enrolledNode } from './support/edge-nodes.ts';

const RULES = [
  { kind: 'rename', from: 't', to: 'temperature' },
  { kind: 'scale', key: 'temperature', factor: 1.8, offset: 32 },
  { kind: 'deadband', key: 'temperature', delta: 0.5 },
  { kind: 'downsample', key: 'humidity', windowMs: 60000, aggregate: 'mean' },
  { kind: 'alert', name: 'hot', key: 'temperature', above: 180, below: -40 },
  { kind: 'filter', drop: ['debug'] },
];

for (const backend of backendNames()) {
  describe(`edge rules on ${backend}`, () => {
    let api: TestApi;
    let a: { key: string; node: { id: string; credential: string } };
    let b: { key: string; node: { id: string; credential: string } };
    let deviceId: string;

    before(async () => {
      api = await TestApi.start(backend);
      const ta = await api.tenant('ada');
      const tb = await api.tenant('bob');
      a = { key: ta.key, node: await enrolledNode(api, ta.key, 'ada-gw') };
      b = { key: tb.key, node: await enrolledNode(api, tb.key, 'bob-gw') };
      const device = await api.call('POST', '/v1/devices', a.key, {
        name: 'oven',
        type: 'oven',
        edgeNodeId: a.node.id,
      });
      deviceId = device.body.id;
      await api.call('POST', '/v1/devices', a.key, { name: 'far', type: 'fridge' });
    });
    after(() => api.close());

    test('a rule set is stored, listed, read and ledgered', async () => {
      const put = await api.call('PUT', '/v1/edge-rules/oven', a.key, { rules: RULES });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.deepEqual(put.body.rules, RULES);
      const fridge = [{ kind: 'filter', keep: ['door'] }];
      await api.call('PUT', '/v1/edge-rules/fridge', a.key, { rules: fridge });
      const list = await api.call('GET', '/v1/edge-rules?limit=1', a.key);
      assert.deepEqual(
        list.body.items.map((s: { deviceType: string }) => s.deviceType),
        ['fridge'],
      );
      const next = await api.call(
        'GET',
        `/v1/edge-rules?limit=1&cursor=${list.body.nextCursor}`,
        a.key,
      );
      assert.deepEqual(next.body.items[0].rules, RULES);
      assert.equal(next.body.nextCursor, null);
      const entry = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', a.key);
      const actions = (entry.body.entries as { entry: { action: string; resource: string } }[])
        .map((e) => e.entry)
        .filter((e) => e.resource === 'edge-rules/oven')
        .map((e) => e.action);
      assert.deepEqual(actions, ['edge.rules.put']);
    });

    test('bad rules are refused with the path of the bad field, and nothing is stored', async () => {
      const cases: [unknown, string, string][] = [
        [
          [{ kind: 'scale', key: 'x', factor: 'big' }],
          '/body/rules/0/factor',
          'PALISADE_INVALID_REQUEST',
        ],
        [[{ kind: 'teleport' }], '/body/rules/0/kind', 'PALISADE_INVALID_REQUEST'],
        [
          [{ kind: 'rename', from: 'a', to: 'b c' }],
          '/body/rules/0/to',
          'PALISADE_INVALID_REQUEST',
        ],
        [
          [{ kind: 'downsample', key: 'x', windowMs: 0, aggregate: 'mean' }],
          '/body/rules/0/windowMs',
          'PALISADE_INVALID_REQUEST',
        ],
        [
          [{ kind: 'deadband', key: 'x', delta: 1, extra: 1 }],
          '/body/rules/0/extra',
          'PALISADE_INVALID_REQUEST',
        ],
        [
          [{ kind: 'alert', name: 'a', key: 'x', above: 1, below: 2 }],
          '/body/rules/0/below',
          'PALISADE_EDGE_RULES_INVALID',
        ],
        [
          [
            { kind: 'alert', name: 'a', key: 'x', above: 1 },
            { kind: 'alert', name: 'a', key: 'y', below: 1 },
          ],
          '/body/rules/1/name',
          'PALISADE_EDGE_RULES_INVALID',
        ],
      ];
      for (const [rules, path, code] of cases) {
        const reply = await api.call('PUT', '/v1/edge-rules/bad', a.key, { rules });
        assert.equal(reply.status, 400, `${JSON.stringify(rules)}: ${JSON.stringify(reply.body)}`);
        assert.equal(reply.body.code, code);
        assert.ok(
          reply.body.errors.some((d: { path: string }) => d.path === path),
          `${JSON.stringify(rules)}: ${JSON.stringify(reply.body.errors)}`,
        );
      }
      assert.equal((await api.call('GET', '/v1/edge-rules/bad', a.key)).status, 404);
    });

    test("a node pulls the rules of its own devices' types, with an ETag", async () => {
      const reply = await api.call('GET', '/v1/edge/rules', a.node.credential);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(reply.body.devices, [{ id: deviceId, type: 'oven' }]);
      assert.deepEqual(
        reply.body.ruleSets.map((s: { deviceType: string }) => s.deviceType),
        ['oven'],
        'fridge rules stay on the platform: no fridge sits behind this node',
      );
      const etag = reply.headers.etag as string;
      assert.equal(etag, `"${reply.body.revision}"`);
      const same = await api.call('GET', '/v1/edge/rules', a.node.credential, undefined, {
        'if-none-match': etag,
      });
      assert.equal(same.status, 304);
      await api.call('PUT', '/v1/edge-rules/oven', a.key, { rules: RULES.slice(1) });
      const changed = await api.call('GET', '/v1/edge/rules', a.node.credential);
      assert.notEqual(changed.body.revision, reply.body.revision);
    });

    test("tenant B's node never receives tenant A's rules", async () => {
      await api.call('PUT', '/v1/edge-rules/oven', b.key, {
        rules: [{ kind: 'filter', keep: ['x'] }],
      });
      const reply = await api.call('GET', '/v1/edge/rules', b.node.credential);
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body.devices, []);
      assert.deepEqual(reply.body.ruleSets, []);
      assert.equal((await api.call('GET', '/v1/edge/rules', a.key)).status, 401);
    });

    test('deleting a rule set is ledgered; deleting it again is a 404', async () => {
      assert.equal((await api.call('DELETE', '/v1/edge-rules/fridge', a.key)).status, 204);
      const again = await api.call('DELETE', '/v1/edge-rules/fridge', a.key);
      assert.equal(again.status, 404);
      assert.equal(again.body.code, 'PALISADE_EDGE_RULE_SET_NOT_FOUND');
    });
  });
}
