import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { commitState } from '@palisade/ledger';
import { nodeSha256 } from '@palisade/ledger/node';
import { ADMIN_TOKEN, type TestApi as Api, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { signedBatch } from './support/edge-nodes.ts';

interface Node {
  readonly nodeId: string;
  readonly credential: string;
  readonly ed: KeyObject;
  readonly ml: KeyObject;
}

const spki = (key: KeyObject) => key.export({ format: 'der', type: 'spki' }).toString('base64');

async function enroll(api: Api, key: string): Promise<Node> {
  const token = await api.call('POST', '/v1/edge-nodes/enrollment-tokens', key, { name: 'gw-1' });
  assert.equal(token.status, 201);
  const ed = generateKeyPairSync('ed25519');
  const ml = generateKeyPairSync('ml-dsa-65' as 'ed25519');
  const reply = await api.call('POST', '/v1/edge/enroll', undefined, {
    token: token.body.token,
    ed25519: spki(ed.publicKey),
    mldsa65: spki(ml.publicKey),
  });
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  const again = await api.call('POST', '/v1/edge/enroll', undefined, {
    token: token.body.token,
    ed25519: spki(ed.publicKey),
    mldsa65: spki(ml.publicKey),
  });
  assert.equal(again.status, 401, 'an enrollment token works once');
  assert.equal(again.body.code, 'PALISADE_EDGE_UNAUTHENTICATED');
  return { ...reply.body, ed: ed.privateKey, ml: ml.privateKey };
}

const send = (api: Api, node: Node, body: unknown) =>
  api.call('POST', '/v1/edge/batches', node.credential, body);

for (const backend of backendNames()) {
  describe(`edge nodes on ${backend}`, () => {
    let api: Api;
    let key: string;
    let tenantId: string;
    let node: Node;
    let deviceId: string;
    const base = Date.now() - 60_000;
    const msg = (i: number, device = deviceId) => ({
      deviceId: device,
      payload: { ts: base + i, values: { n: i } },
      receivedAt: base + i,
    });
    const assigned = async (name: string, to: Node, fields: Record<string, unknown> = {}) => {
      const made = await api.call('POST', '/v1/devices', key, {
        name,
        edgeNodeId: to.nodeId,
        ...fields,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return made.body.id as string;
    };
    /** A newly enrolled node and a device assigned to it. */
    const nodeWithDevice = async () => {
      const fresh = await enroll(api, key);
      return { fresh, device: await assigned(`behind-${fresh.nodeId}`, fresh) };
    };

    before(async () => {
      api = await TestApi.start(backend);
      ({ key, id: tenantId } = await api.tenant('edge'));
      node = await enroll(api, key);
      deviceId = await assigned('behind-edge', node);
    });
    after(() => api.close());

    test('the registry lists the node with its public keys, never its credential', async () => {
      const list = await api.call('GET', '/v1/edge-nodes', key);
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.items.map((n: { id: string; status: string }) => [n.id, n.status]),
        [[node.nodeId, 'active']],
      );
      assert.ok(!JSON.stringify(list.body).includes(node.credential.split('.')[1]!));
    });

    test('batches apply exactly once under duplicates and reordering', async () => {
      const b1 = signedBatch(node, 'b1', [msg(0), msg(1)]);
      const b2 = signedBatch(node, 'b2', [msg(2), msg(3)]);
      const b3 = signedBatch(node, 'b3', [msg(4)]);
      const replies = await Promise.all(
        [b2, b1, b2, b3, b1, b3, b2].map((b) => send(api, node, b)),
      );
      for (const r of replies) assert.equal(r.status, 200, JSON.stringify(r.body));
      const first = replies[1]!.body;
      assert.deepEqual(replies[4]!.body, first, 'a replay gets the original answer');
      assert.deepEqual(first, { batchId: 'b1', applied: 2, points: 2, refused: [] });
      const points = await api.call(
        'GET',
        `/v1/devices/${deviceId}/telemetry?keys=n&from=0&to=${base + 1000}&limit=100`,
        key,
      );
      assert.deepEqual(
        points.body.n.map((p: { value: number }) => p.value),
        [0, 1, 2, 3, 4],
      );
      const entries = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key);
      const batchEntries = entries.body.entries.filter(
        (e: { entry: { action: string } }) => e.entry.action === 'edge.batch',
      );
      assert.equal(batchEntries.length, 3, 'one ledger entry per batch, however often sent');
    });

    test("a point's ledger entry names the node; the batch entry commits to its signatures", async () => {
      const b = signedBatch(node, 'b-ledger', [msg(10)]);
      assert.equal((await send(api, node, b)).status, 200);
      const entries = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key);
      const parsed = entries.body.entries.map((e: { entry: unknown }) => e.entry);
      const point = parsed.findLast(
        (e: { resource: string }) => e.resource === `telemetry/${deviceId}`,
      );
      assert.equal(point.actor, `edge-node:${node.nodeId}`);
      const sealed = parsed.find(
        (e: { resource: string }) => e.resource === `edge-nodes/${node.nodeId}/batches/b-ledger`,
      );
      assert.equal(sealed.actor, `edge-node:${node.nodeId}`);
      const tenantStore = await storeOf(api);
      const row = (await tenantStore.reader.ledgerEntries(sealed.seq, sealed.seq + 1))[0]!;
      const applied = await tenantStore.reader.edge.getBatch(node.nodeId, 'b-ledger');
      assert.deepEqual(applied?.signatures, b.signatures);
      const state = {
        node: node.nodeId,
        batch: 'b-ledger',
        contentHash: applied!.contentHash,
        keyVersion: 1,
        signatures: b.signatures,
      };
      assert.equal(commitState(nodeSha256, row.salt!, state), sealed.commitment);
    });

    test("one ledger entry per device and batch commits to its messages' points in order", async () => {
      const strict = await assigned('strict', node, { telemetryKeys: ['n'] });
      const at = (deviceId: string, ts: number, values: Record<string, number>) => ({
        deviceId,
        payload: { ts: base + ts, values },
        receivedAt: base + ts,
      });
      const before = (await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key)).body
        .entries.length;
      const b = signedBatch(node, 'b-grouped', [
        at(deviceId, 50, { n: 50 }),
        at(strict, 50, { n: 1 }),
        at(strict, 51, { x: 2 }),
        at(deviceId, 51, { n: 51 }),
        at(deviceId, 50, { n: 99 }),
        at(strict, 52, { n: 3 }),
      ]);
      const reply = await send(api, node, b);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(reply.body.refused, [{ index: 2, code: 'PALISADE_TELEMETRY_UNKNOWN_KEY' }]);
      assert.equal(reply.body.applied, 5);
      const stored = await api.call(
        'GET',
        `/v1/devices/${deviceId}/telemetry?keys=n&from=${base + 50}&to=${base + 52}&limit=10`,
        key,
      );
      assert.deepEqual(
        stored.body.n.map((p: { value: number }) => p.value),
        [99, 51],
        'a later point with the same key and ts wins',
      );
      const tenantStore = await storeOf(api);
      const added = await tenantStore.reader.ledgerEntries(before, before + 100);
      const via = { edgeNode: node.nodeId, batch: 'b-grouped' };
      const expected: Record<string, unknown[]> = {
        [`telemetry/${deviceId}`]: [
          ['n', base + 50, 'number', 50],
          ['n', base + 51, 'number', 51],
          ['n', base + 50, 'number', 99],
        ],
        [`telemetry/${strict}`]: [
          ['n', base + 50, 'number', 1],
          ['n', base + 52, 'number', 3],
        ],
      };
      const telemetry = added.filter((row) => row.resource.startsWith('telemetry/'));
      assert.deepEqual(telemetry.map((row) => row.resource).sort(), Object.keys(expected).sort());
      for (const row of telemetry) {
        const entry = JSON.parse(row.entry);
        assert.equal(entry.actor, `edge-node:${node.nodeId}`);
        const state = { device: row.resource.slice(10), points: expected[row.resource], via };
        assert.equal(commitState(nodeSha256, row.salt!, state), entry.commitment);
      }
    });

    test('a forged signature and a replayed id with other content are refused and alerted', async () => {
      const thief = {
        ...node,
        ed: generateKeyPairSync('ed25519').privateKey,
        ml: generateKeyPairSync('ml-dsa-65' as 'ed25519').privateKey,
      };
      const forged = await send(api, node, signedBatch(node, 'b-forged', [msg(20)], thief));
      assert.equal(forged.status, 403);
      assert.equal(forged.body.code, 'PALISADE_EDGE_SIGNATURE_INVALID');
      const conflict = await send(api, node, signedBatch(node, 'b1', [msg(21)]));
      assert.equal(conflict.status, 409);
      assert.equal(conflict.body.code, 'PALISADE_EDGE_BATCH_CONFLICT');
      const alerts = await api.call('GET', `/v1/edge-nodes/${node.nodeId}/alerts`, key);
      assert.deepEqual(
        alerts.body.items.map((a: { kind: string; batchId: string }) => [a.kind, a.batchId]),
        [
          ['forged-signature', 'b-forged'],
          ['batch-conflict', 'b1'],
        ],
      );
      const metrics = (await api.call('GET', '/metrics', undefined)).body as string;
      for (const kind of ['forged-signature', 'batch-conflict']) {
        const counted = new RegExp(
          `^palisade_edge_node_alerts_total\\{kind="${kind}"\\} (\\d+)$`,
          'm',
        );
        assert.ok(Number(counted.exec(metrics)?.[1]) >= 1, `${kind} counted in /metrics`);
      }
      const points = await api.call(
        'GET',
        `/v1/devices/${deviceId}/telemetry?keys=n&from=${base + 20}&to=${base + 30}&limit=10`,
        key,
      );
      assert.deepEqual(points.body, {}, 'nothing of a refused batch is stored');
    });

    test("a suspended tenant's node is told so, only once its credential verifies", async () => {
      const { fresh, device } = await nodeWithDevice();
      const suspend = (status: string) =>
        api.call('PATCH', `/v1/platform/tenants/${tenantId}`, ADMIN_TOKEN, { status });
      await suspend('suspended');
      try {
        const refused = await send(api, fresh, signedBatch(fresh, 'b-susp', [msg(28, device)]));
        assert.equal(refused.status, 403, JSON.stringify(refused.body));
        assert.equal(refused.body.code, 'PALISADE_TENANT_SUSPENDED');
        const guessed = await send(
          api,
          { ...fresh, credential: `${fresh.credential.slice(0, -4)}AAAA` },
          signedBatch(fresh, 'b-susp', [msg(28, device)]),
        );
        assert.equal(guessed.status, 401, 'a wrong credential learns nothing of the tenant');
        assert.equal(guessed.body.code, 'PALISADE_EDGE_UNAUTHENTICATED');
      } finally {
        await suspend('active');
      }
      const ok = await send(api, fresh, signedBatch(fresh, 'b-susp', [msg(28, device)]));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    });

    test('a disabled node cannot sync; a rekeyed node enrolls again under the same id', async () => {
      const off = await api.call('PATCH', `/v1/edge-nodes/${node.nodeId}`, key, { disabled: true });
      assert.equal(off.body.status, 'disabled');
      const disabled = await send(api, node, signedBatch(node, 'b-off', [msg(30)]));
      assert.equal(disabled.status, 403);
      assert.equal(disabled.body.code, 'PALISADE_EDGE_NODE_DISABLED');
      const rekey = await api.call('POST', `/v1/edge-nodes/${node.nodeId}/rekey`, key);
      assert.equal(rekey.status, 201);
      const ed = generateKeyPairSync('ed25519');
      const ml = generateKeyPairSync('ml-dsa-65' as 'ed25519');
      const again = await api.call('POST', '/v1/edge/enroll', undefined, {
        token: rekey.body.token,
        ed25519: spki(ed.publicKey),
        mldsa65: spki(ml.publicKey),
      });
      assert.equal(again.body.nodeId, node.nodeId);
      assert.equal(again.body.keyVersion, 2);
      const fresh = { ...again.body, ed: ed.privateKey, ml: ml.privateKey };
      assert.equal((await send(api, node, signedBatch(node, 'b-old', [msg(31)]))).status, 401);
      const ok = await send(api, fresh, signedBatch(fresh, 'b-new', [msg(32)]));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    });

    test('a refused node is told why before its body is validated, and nothing is stored', async () => {
      const { fresh, device } = await nodeWithDevice();
      const malformed = signedBatch(fresh, 'b-malformed', [
        msg(80, device),
        { ...msg(81, device), deviceId: 'x'.repeat(65) },
      ]);
      const checked = await send(api, fresh, malformed);
      assert.equal(checked.status, 400, 'the body is one the schema refuses');
      assert.match(JSON.stringify(checked.body), /\/body\/messages\/1\/deviceId/);
      const unknown = await send(
        api,
        { ...fresh, credential: `${fresh.credential.slice(0, -4)}AAAA` },
        malformed,
      );
      assert.equal(unknown.status, 401, JSON.stringify(unknown.body));
      assert.equal(unknown.body.code, 'PALISADE_EDGE_UNAUTHENTICATED');
      assert.doesNotMatch(JSON.stringify(unknown.body), /messages|deviceId/, 'no schema detail');
      const anonymous = await api.call('POST', '/v1/edge/batches', undefined, malformed);
      assert.equal(anonymous.status, 401, JSON.stringify(anonymous.body));
      const off = await api.call('PATCH', `/v1/edge-nodes/${fresh.nodeId}`, key, {
        disabled: true,
      });
      assert.equal(off.status, 200);
      const disabled = await send(api, fresh, malformed);
      assert.equal(disabled.status, 403, JSON.stringify(disabled.body));
      assert.equal(disabled.body.code, 'PALISADE_EDGE_NODE_DISABLED');
      const points = await api.call(
        'GET',
        `/v1/devices/${device}/telemetry?keys=n&from=0&to=${base + 1000}&limit=10`,
        key,
      );
      assert.deepEqual(points.body, {}, 'nothing of a refused batch is stored');
      const tenantStore = await storeOf(api);
      assert.equal(await tenantStore.reader.edge.getBatch(fresh.nodeId, 'b-malformed'), undefined);
      const alerts = await api.call('GET', `/v1/edge-nodes/${fresh.nodeId}/alerts`, key);
      assert.deepEqual(alerts.body.items, []);
      // The node's other routes too: its poll with a body, its credential pull with a query.
      const asNode = (method: 'GET' | 'POST', url: string, credential: string, body?: unknown) =>
        api.call(method, url, credential, body);
      const badPoll = { responses: 'not a list', received: [], waitMs: -1 };
      for (const [credential, status, code] of [
        [fresh.credential, 403, 'PALISADE_EDGE_NODE_DISABLED'],
        [`${fresh.credential.slice(0, -4)}AAAA`, 401, 'PALISADE_EDGE_UNAUTHENTICATED'],
      ] as const) {
        for (const reply of [
          await asNode('POST', '/v1/edge/rpc', credential, badPoll),
          await asNode('GET', '/v1/edge/device-credentials?limit=-5', credential),
          await asNode('GET', '/v1/edge/rules', credential),
        ]) {
          assert.equal(reply.status, status, JSON.stringify(reply.body));
          assert.equal(reply.body.code, code);
        }
      }
    });

    test('a node disabled or re-keyed while its batch is on the way is refused, and nothing is stored', async () => {
      for (const [revoke, status, code] of [
        ['disable', 403, 'PALISADE_EDGE_NODE_DISABLED'],
        ['rekey', 401, 'PALISADE_EDGE_UNAUTHENTICATED'],
      ] as const) {
        const { fresh, device } = await nodeWithDevice();
        const body = JSON.stringify(signedBatch(fresh, `b-${revoke}`, [msg(90, device)]));
        const { upload, sent } = heldUpload(api, fresh.credential, body);
        // The credential was checked before the body is read: the node is revoked meanwhile.
        await upload.reading;
        const revoked =
          revoke === 'disable'
            ? await api.call('PATCH', `/v1/edge-nodes/${fresh.nodeId}`, key, { disabled: true })
            : await api.call('POST', `/v1/edge-nodes/${fresh.nodeId}/rekey`, key);
        assert.ok(revoked.status === 200 || revoked.status === 201, JSON.stringify(revoked.body));
        upload.release();
        const reply = await sent;
        assert.equal(reply.statusCode, status, reply.body);
        assert.equal(JSON.parse(reply.body).code, code);
        const tenantStore = await storeOf(api);
        assert.equal(
          await tenantStore.reader.edge.getBatch(fresh.nodeId, `b-${revoke}`),
          undefined,
        );
        const points = await api.call(
          'GET',
          `/v1/devices/${device}/telemetry?keys=n&from=0&to=${base + 1000}&limit=10`,
          key,
        );
        assert.deepEqual(points.body, {}, `nothing of the batch is stored after ${revoke}`);
      }
    });

    test('a tenant suspended while its batch is on the way gets nothing of it committed', async () => {
      const { fresh, device } = await nodeWithDevice();
      const body = JSON.stringify(signedBatch(fresh, 'b-suspended', [msg(91, device)]));
      const { upload, sent } = heldUpload(api, fresh.credential, body);
      // The tenant was active when the credential was checked, before the body is read.
      await upload.reading;
      const tenantAt = `/v1/platform/tenants/${tenantId}`;
      const suspended = await api.call('PATCH', tenantAt, ADMIN_TOKEN, { status: 'suspended' });
      assert.equal(suspended.status, 200, JSON.stringify(suspended.body));
      try {
        upload.release();
        const reply = await sent;
        assert.equal(reply.statusCode, 403, reply.body);
        assert.equal(JSON.parse(reply.body).code, 'PALISADE_TENANT_SUSPENDED');
        const tenantStore = await storeOf(api);
        assert.equal(
          await tenantStore.reader.edge.getBatch(fresh.nodeId, 'b-suspended'),
          undefined,
        );
      } finally {
        const resumed = await api.call('PATCH', tenantAt, ADMIN_TOKEN, { status: 'active' });
        assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
      }
      const points = await api.call(
        'GET',
        `/v1/devices/${device}/telemetry?keys=n&from=0&to=${base + 1000}&limit=10`,
        key,
      );
      assert.deepEqual(points.body, {}, 'nothing of the batch is stored');
      // Resumed, the node's resend applies it.
      assert.equal((await send(api, fresh, JSON.parse(body))).status, 200);
    });

    test("a batch sequence number another batch of the node had applied is refused as a copy's, and alerted", async () => {
      const { fresh, device } = await nodeWithDevice();
      const at = (id: string, seq: number, i: number) =>
        signedBatch(fresh, id, [msg(i, device)], fresh, seq);
      const first = await send(api, fresh, at('copy-a-1', 1, 100));
      assert.equal(first.status, 200, JSON.stringify(first.body));
      // The copy formed its first batch from the same count, under another id.
      const copy = await send(api, fresh, at('copy-b-1', 1, 101));
      assert.equal(copy.status, 409, JSON.stringify(copy.body));
      assert.equal(copy.body.code, 'PALISADE_EDGE_NODE_CLONED');
      assert.equal((await send(api, fresh, at('copy-b-1', 1, 101))).status, 409, 'and resent');
      // A resend of the applied batch is a replay; the next number, and no number, apply.
      assert.deepEqual((await send(api, fresh, at('copy-a-1', 1, 100))).body, first.body);
      assert.equal((await send(api, fresh, at('copy-a-2', 2, 102))).status, 200);
      assert.equal(
        (await send(api, fresh, signedBatch(fresh, 'older-node', [msg(103, device)]))).status,
        200,
      );
      const points = await api.call(
        'GET',
        `/v1/devices/${device}/telemetry?keys=n&from=0&to=${base + 1000}&limit=10`,
        key,
      );
      assert.deepEqual(
        points.body.n.map((p: { value: number }) => p.value),
        [100, 102, 103],
      );
      const alerts = await api.call('GET', `/v1/edge-nodes/${fresh.nodeId}/alerts`, key);
      assert.deepEqual(
        alerts.body.items.map((a: { kind: string; count: number }) => [a.kind, a.count]),
        [['node-cloned', 2]],
      );
      assert.equal(alerts.body.items[0].batchId, 'copy-b-1');
      assert.deepEqual(
        {
          seq: alerts.body.items[0].detail.seq,
          applied: alerts.body.items[0].detail.appliedBatchId,
        },
        { seq: 1, applied: 'copy-a-1' },
      );
    });

    test('a message for an unknown device is refused by index, the rest apply', async () => {
      const { fresh, device } = await nodeWithDevice();
      const reply = await send(
        api,
        fresh,
        signedBatch(fresh, 'b-mixed', [
          msg(40, device),
          { ...msg(41), deviceId: '00000000-0000-7000-8000-000000000000' },
        ]),
      );
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body.refused, [{ index: 1, code: 'PALISADE_DEVICE_NOT_FOUND' }]);
      assert.equal(reply.body.applied, 1);
    });

    test('a node cannot write for a device never assigned to it: refused by index, nothing written or ledgered, the node alerted', async () => {
      const { fresh, device } = await nodeWithDevice();
      const elsewhere = (await nodeWithDevice()).device;
      const loose = (await api.call('POST', '/v1/devices', key, { name: 'on-no-node' })).body.id;
      const ledger = async () =>
        (await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key)).body.entries as {
          entry: { action: string; resource: string };
        }[];
      const before = (await ledger()).length;
      const foreign = signedBatch(fresh, 'b-foreign', [
        msg(60, device),
        msg(61, elsewhere),
        { ...msg(62, elsewhere), kind: 'attributes', payload: { forged: true } },
        msg(63, loose),
      ]);
      const reply = await send(api, fresh, foreign);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(reply.body, {
        batchId: 'b-foreign',
        applied: 1,
        points: 1,
        refused: [1, 2, 3].map((index) => ({ index, code: 'PALISADE_EDGE_DEVICE_NOT_ASSIGNED' })),
      });
      for (const id of [elsewhere, loose]) {
        const points = await api.call(
          'GET',
          `/v1/devices/${id}/telemetry?keys=n&from=0&to=${base + 1000}&limit=10`,
          key,
        );
        assert.deepEqual(points.body, {}, "nothing written for a device not the node's");
      }
      const attributes = (await api.call('GET', `/v1/devices/${elsewhere}`, key)).body;
      assert.deepEqual(attributes.clientAttributes, {});
      assert.deepEqual((await send(api, fresh, foreign)).body, reply.body, 'a replay');
      const alerts = await api.call('GET', `/v1/edge-nodes/${fresh.nodeId}/alerts`, key);
      assert.deepEqual(
        alerts.body.items.map((a: { kind: string; batchId: string; detail: unknown }) => [
          a.kind,
          a.batchId,
          a.detail,
        ]),
        [['device-not-assigned', 'b-foreign', { devices: [elsewhere, loose] }]],
        'one alert for the batch, however often it is sent',
      );
      const added = (await ledger()).slice(before).map((e) => e.entry.resource);
      assert.deepEqual(added.sort(), [
        `edge-nodes/${fresh.nodeId}/alerts/${alerts.body.items[0].id}`,
        `edge-nodes/${fresh.nodeId}/batches/b-foreign`,
        `telemetry/${device}`,
      ]);
    });

    test('a device moved from node X to Y: X still sends its backlog, whenever it received it, and Y what it receives', async () => {
      const { fresh: x, device } = await nodeWithDevice();
      const y = await enroll(api, key);
      const move = async (edgeNodeId: string | null) => {
        const reply = await api.call('PATCH', `/v1/devices/${device}`, key, { edgeNodeId });
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        return Date.parse(reply.body.updatedAt);
      };
      const received = (n: number, receivedAt: number) => ({
        deviceId: device,
        payload: { ts: base + 100 + n, values: { n } },
        receivedAt,
      });
      const attributes = (fromX: string, receivedAt: number) => ({
        deviceId: device,
        payload: { fromX },
        receivedAt,
        kind: 'attributes',
      });
      const applied = async (node: typeof x, id: string, messages: object[]) => {
        const reply = await send(api, node, signedBatch(node, id, messages));
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        assert.deepEqual(reply.body.refused, [], id);
      };
      const movedToY = await move(y.nodeId);
      // An offline node learns of the move only when it next syncs: it received these after.
      await applied(x, 'b-backlog', [
        received(1, movedToY - 1000),
        received(2, movedToY),
        received(3, movedToY + 1),
        attributes('before the move', movedToY - 1),
        attributes('after the move', movedToY + 1),
      ]);
      await applied(y, 'b-new', [received(4, movedToY - 500), received(5, movedToY + 2)]);
      const off = await move(null);
      await applied(y, 'b-late', [received(6, off), received(7, off + 1)]);

      const stored = await api.call(
        'GET',
        `/v1/devices/${device}/telemetry?keys=n&from=${base + 100}&to=${base + 110}&limit=10`,
        key,
      );
      assert.deepEqual(
        stored.body.n.map((p: { value: number }) => p.value),
        [1, 2, 3, 4, 5, 6, 7],
      );
      const row = (await api.call('GET', `/v1/devices/${device}`, key)).body;
      assert.deepEqual(row.clientAttributes, { fromX: 'after the move' });
      const alerts = await api.call('GET', `/v1/edge-nodes/${x.nodeId}/alerts`, key);
      assert.deepEqual(alerts.body.items, [], "a moved device's backlog raises no alert");
    });

    test("a message the node says it received outside the platform's accepted range is refused by index", async () => {
      const { fresh, device } = await nodeWithDevice();
      const day = 86_400_000;
      // Points that name no ts take the node's receivedAt: it is held to the platform's clock.
      const future = { deviceId: device, payload: { n: 1 }, receivedAt: Date.now() + day };
      const ancient = { deviceId: device, payload: { n: 2 }, receivedAt: Date.now() - 400 * day };
      const reply = await send(
        api,
        fresh,
        signedBatch(fresh, 'b-clock', [msg(45, device), future, ancient]),
      );
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(reply.body.refused, [
        { index: 1, code: 'PALISADE_TELEMETRY_TIMESTAMP_OUT_OF_RANGE' },
        { index: 2, code: 'PALISADE_TELEMETRY_TIMESTAMP_OUT_OF_RANGE' },
      ]);
      assert.equal(reply.body.applied, 1);
    });

    test('a batch whose createdAt is not a date-time is refused whole, naming it', async () => {
      const fresh = await enroll(api, key);
      const signed = signedBatch(fresh, 'b-created', [msg(46)]);
      const reply = await send(api, fresh, { ...signed, createdAt: 'yesterday\u0000' });
      assert.equal(reply.status, 400, JSON.stringify(reply.body));
      assert.equal(reply.body.code, 'PALISADE_INVALID_REQUEST');
      assert.match(JSON.stringify(reply.body), /createdAt/);
    });

    test('a message holding U+0000 is refused by index, the rest apply', async () => {
      const { fresh, device } = await nodeWithDevice();
      const nul = { ...msg(43, device), payload: { ts: base + 43, values: { s: 'a\u0000b' } } };
      const reply = await send(
        api,
        fresh,
        signedBatch(fresh, 'b-nul', [msg(42, device), nul, msg(44, device)]),
      );
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(reply.body.refused, [
        { index: 1, code: 'PALISADE_TELEMETRY_INVALID_VALUE' },
      ]);
      assert.equal(reply.body.applied, 2);
    });
  });
}

/** A request body whose first byte goes at once and the rest only at `release`. */
/**
 * Posts `body` as an edge batch of the node with `credential`, its body held after the first
 * byte: `upload.reading` resolves once the platform reads it, `upload.release()` sends the rest.
 */
function heldUpload(api: Api, credential: string, body: string) {
  const upload = heldBody(body);
  const sent = api.http.inject({
    method: 'POST',
    url: '/v1/edge/batches',
    headers: {
      authorization: `Bearer ${credential}`,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    },
    payload: upload.stream,
  });
  return { upload, sent };
}

function heldBody(body: string) {
  let release!: () => void;
  let reading!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const started = new Promise<void>((resolve) => {
    reading = resolve;
  });
  async function* chunks() {
    yield Buffer.from(body.slice(0, 1));
    reading();
    await released;
    yield Buffer.from(body.slice(1));
  }
  return { stream: Readable.from(chunks()), reading: started, release };
}

async function storeOf(api: Api) {
  for (const shard of api.platform.stores.shards.values()) {
    const tenants = await api.platform.stores.controlPlane.listTenants({
      after: undefined,
      limit: 100,
    });
    for (const t of tenants)
      if (t.slug === 'edge' && t.shard === shard.id) return shard.tenant(t.id);
  }
  throw new Error('no store');
}
