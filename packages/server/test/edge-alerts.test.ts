import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalJson } from '@palisade/ledger';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { type SigningNode, signedBatch, signingNode } from './support/edge-nodes.ts';

interface Alert {
  id: string;
  kind: string;
  batchId: string;
  detail: Record<string, unknown>;
  createdAt: string;
  count: number;
  lastSeenAt: string;
}

/** A batch from `node` signed with keys that are not its own. */
function forged(node: SigningNode, batchId: string, n: number) {
  const thief = {
    ed: generateKeyPairSync('ed25519').privateKey,
    ml: generateKeyPairSync('ml-dsa-65' as 'ed25519').privateKey,
  };
  const messages = [{ deviceId: 'any', payload: { n }, receivedAt: n }];
  return signedBatch(node, batchId, messages, thief);
}

const hashOf = (batch: ReturnType<typeof forged>) => {
  const { signatures: _signatures, ...content } = batch;
  return createHash('sha256').update(canonicalJson(content)).digest('base64url');
};

async function refuse(api: TestApi, node: SigningNode, batch: ReturnType<typeof forged>) {
  const reply = await api.call('POST', '/v1/edge/batches', node.credential, batch);
  assert.equal(reply.status, 403, JSON.stringify(reply.body));
  assert.equal(reply.body.code, 'PALISADE_EDGE_SIGNATURE_INVALID');
}

async function alertsOf(api: TestApi, key: string, node: SigningNode): Promise<Alert[]> {
  const reply = await api.call('GET', `/v1/edge-nodes/${node.nodeId}/alerts`, key);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body.items;
}

const counted = async (api: TestApi) => {
  const metrics = (await api.call('GET', '/metrics', undefined)).body as string;
  return Number(
    /^palisade_edge_node_alerts_total\{kind="forged-signature"\} (\d+)$/m.exec(metrics)?.[1],
  );
};

for (const backend of backendNames()) {
  describe(`edge alerts on ${backend}`, () => {
    let api: TestApi;
    let key: string;

    before(async () => {
      api = await TestApi.start(backend);
      ({ key } = await api.tenant('edge-alerts'));
    });
    after(() => api.close());

    test('a node retrying a forged batch raises one alert that counts the retries and keeps the first evidence', async () => {
      const node = await signingNode(api, key);
      const other = await signingNode(api, key, 'gw-other');
      const metricsBefore = await counted(api);
      const first = forged(node, 'b-first', 1);
      await refuse(api, node, first);
      await refuse(api, node, first);
      await refuse(api, node, forged(node, 'b-second', 2));
      await refuse(api, other, forged(other, 'b-other', 3));
      const [alert, ...rest] = await alertsOf(api, key, node);
      assert.deepEqual(rest, [], 'one alert per node and kind');
      assert.equal(alert?.kind, 'forged-signature');
      assert.equal(alert.count, 3);
      assert.equal(alert.batchId, 'b-first');
      assert.deepEqual(alert.detail, { contentHash: hashOf(first) });
      assert.ok(alert.lastSeenAt >= alert.createdAt, JSON.stringify(alert));
      const others = await alertsOf(api, key, other);
      assert.deepEqual(
        others.map((a) => [a.kind, a.batchId, a.count]),
        [['forged-signature', 'b-other', 1]],
        "another node's alert is its own",
      );
      assert.equal((await counted(api)) - metricsBefore, 4, 'the metric counts every occurrence');
      const ledger = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key);
      const actions = ledger.body.entries
        .map((e: { entry: { action: string; resource: string } }) => e.entry)
        .filter(
          (e: { resource: string }) =>
            e.resource === `edge-nodes/${node.nodeId}/alerts/${alert.id}`,
        )
        .map((e: { action: string }) => e.action);
      assert.deepEqual(
        actions,
        ['edge.alert', 'edge.alert.repeat', 'edge.alert.repeat'],
        'each occurrence is ledgered',
      );
    });
  });

  describe(`edge alerts on ${backend}, once the alert window has passed`, () => {
    let api: TestApi;
    let key: string;

    before(async () => {
      api = await TestApi.start(backend, { edgeAlertWindowMs: '1' });
      ({ key } = await api.tenant('edge-alert-window'));
    });
    after(() => api.close());

    test('the same kind against the node is a new alert', async () => {
      const node = await signingNode(api, key);
      await refuse(api, node, forged(node, 'b-1', 1));
      await sleep(10);
      await refuse(api, node, forged(node, 'b-2', 2));
      const alerts = await alertsOf(api, key, node);
      assert.deepEqual(
        alerts.map((a) => [a.kind, a.batchId, a.count]),
        [
          ['forged-signature', 'b-1', 1],
          ['forged-signature', 'b-2', 1],
        ],
      );
    });
  });
}
