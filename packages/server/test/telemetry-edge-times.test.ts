/**
 * An edge message's points are held to the platform's accepted range (`telemetryMaxPastMs`,
 * `telemetryMaxFutureMs` around the platform's clock) as well as to the range around the
 * `receivedAt` its node gives: a ts within the node's range but outside the platform's (a
 * receivedAt near one end of the platform's range, a ts further out) is refused by index, as
 * the same point sent over REST is. Such a point was stored on SQLite, and on PostgreSQL, whose
 * partitions reach only as far as the platform's range, it failed the whole batch (503).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { signedBatch, signingNode } from './support/edge-nodes.ts';

const DAY = 86_400_000;
const OUT_OF_RANGE = 'PALISADE_TELEMETRY_TIMESTAMP_OUT_OF_RANGE';
/** Ranges of 60 days either side of now, within the 365 days every plan keeps. */
const LIMITS = {
  telemetryMaxPastMs: String(60 * DAY),
  telemetryMaxFutureMs: String(60 * DAY),
};

for (const backend of backendNames()) {
  describe(`edge points beyond the platform's accepted range (${backend})`, () => {
    let api: TestApi;
    let key: string;

    before(async () => {
      api = await TestApi.start(backend, LIMITS);
      key = (await api.tenant('edge-times')).key;
    });
    after(() => api.close());

    test('are refused by index; those within both ranges are stored', async () => {
      const node = await signingNode(api, key);
      const made = await api.call('POST', '/v1/devices', key, {
        name: 'behind',
        edgeNodeId: node.nodeId,
      });
      const id = made.body.id as string;
      const now = Date.now();
      const ahead = now + 59 * DAY;
      const behind = now - 59 * DAY;
      const reply = await api.call(
        'POST',
        '/v1/edge/batches',
        node.credential,
        signedBatch(node, 'b-range', [
          { deviceId: id, payload: { ts: ahead, values: { n: 1 } }, receivedAt: ahead },
          { deviceId: id, payload: { ts: ahead + 58 * DAY, values: { n: 2 } }, receivedAt: ahead },
          { deviceId: id, payload: { ts: behind, values: { n: 3 } }, receivedAt: behind },
          {
            deviceId: id,
            payload: { ts: behind - 58 * DAY, values: { n: 4 } },
            receivedAt: behind,
          },
        ]),
      );
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(reply.body.refused, [
        { index: 1, code: OUT_OF_RANGE },
        { index: 3, code: OUT_OF_RANGE },
      ]);
      const stored = await api.call(
        'GET',
        `/v1/devices/${id}/telemetry?from=0&to=${now + 365 * DAY}`,
        key,
      );
      assert.deepEqual(stored.body, {
        n: [
          { ts: behind, value: 3 },
          { ts: ahead, value: 1 },
        ],
      });
    });
  });
}
