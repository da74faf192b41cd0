/**
 * Batches a real platform refuses for good (400 naming a message, 409 for a batch id it
 * applied with other content) are set aside in the outbox's quarantine instead of being
 * resent forever in front of everything behind them: the rest drains, nothing is dropped,
 * and the operator sees them (status, metrics, `palisade-edge quarantine list`) and retries
 * or discards them explicitly.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { backendNames } from '../../server/test/support/backends.ts';
import { signedBatch } from '../../server/test/support/edge-nodes.ts';
import { refusedForGood } from '../src/batch-refusal.ts';
import { diagnose } from '../src/cli/commands/sync-diagnosis.ts';
import { DEFAULT_SYNC, Outbox, readOutboxStatus, SyncLoop } from '../src/index.ts';
import { EdgeMetrics } from '../src/metrics/index.ts';
import { outboxPath } from '../src/node-file.ts';
import type { QuarantinedBatch, Refusal } from '../src/outbox-quarantine.ts';
import { PlatformRefusedError } from '../src/platform-call.ts';
import {
  drained,
  enrollNode,
  PlatformLink,
  runCli,
  startNode,
  until,
} from './support/edge-harness.ts';

/** A device id the platform's batch schema refuses (over 64 characters). */
const TOO_LONG = 'x'.repeat(65);

for (const backend of backendNames()) {
  describe(`batches refused for good, on ${backend}`, () => {
    let link: PlatformLink;
    let key: string;
    const base = Date.now() - 60_000;
    const point = (n: number) => ({ ts: base + n, values: { n } });

    before(async () => {
      link = await PlatformLink.start(backend);
      ({ key } = await link.api.tenant('refusals'));
    });
    after(() => link.close());

    /** A node enrolled through the command, its device, its open outbox and a sync loop. */
    async function node(name: string) {
      const dir = mkdtempSync(join(tmpdir(), `edge-${name}-`));
      const file = await enrollNode(link, key, dir, name);
      const device = (
        await link.call('POST', '/v1/devices', key, { name, edgeNodeId: file.nodeId })
      ).body.id as string;
      const outbox = new Outbox(outboxPath(dir), Buffer.from(file.outboxKey, 'base64'), {
        maxMessages: 100,
      });
      const setAside: { batchId: string; messages: number; refusal: Refusal }[] = [];
      const loop = new SyncLoop(
        outbox,
        file,
        { ...DEFAULT_SYNC, batchMaxMessages: 10 },
        { setAside: (batchId, messages, refusal) => setAside.push({ batchId, messages, refusal }) },
      );
      const cli = async (...args: string[]) => {
        const run = await runCli(['quarantine', ...args, '--dir', dir]);
        assert.equal(run.code, 0, run.stderr);
        return run.stdout;
      };
      const listed = async () => JSON.parse(await cli('list', '--json')) as QuarantinedBatch[];
      const done = () => {
        outbox.close();
        rmSync(dir, { recursive: true, force: true });
      };
      const signer = {
        nodeId: file.nodeId,
        credential: file.credential,
        ed: createPrivateKey(file.ed25519),
        ml: createPrivateKey(file.mldsa65),
      };
      return { dir, file, signer, device, outbox, loop, setAside, cli, listed, done };
    }

    /** Syncs until nothing waits; every failure thrown on the way is returned. */
    async function syncAll(outbox: Outbox, loop: SyncLoop): Promise<unknown[]> {
      const errors: unknown[] = [];
      for (let i = 0; outbox.waiting() > 0 && i < 20; i++)
        await loop.syncOnce().catch((error: unknown) => errors.push(error));
      assert.equal(outbox.waiting(), 0, `still waiting after ${errors.length} failures`);
      return errors;
    }

    test('a message the platform refuses is set aside alone; the rest of its batch and the queue go on', async () => {
      const n = await node('bad-message');
      try {
        n.outbox.accept(n.device, point(0));
        n.outbox.accept(TOO_LONG, point(1));
        n.outbox.accept(n.device, point(2));
        n.outbox.accept(n.device, point(3));
        assert.deepEqual(await syncAll(n.outbox, n.loop), []);
        assert.deepEqual(await link.values(key, n.device), [0, 2, 3]);
        assert.equal(n.setAside.length, 1);
        const [batch] = await n.listed();
        assert.equal(batch?.batchId, n.setAside[0]?.batchId);
        assert.equal(batch?.messages, 1);
        assert.deepEqual(batch?.devices, [TOO_LONG]);
        assert.equal(batch?.sent, false);
        assert.equal(batch?.refusal.status, 400);
        assert.equal(batch?.refusal.code, 'PALISADE_INVALID_REQUEST');
        assert.equal(batch?.refusal.errors[0]?.path, '/body/messages/1/deviceId');

        const status = readOutboxStatus(outboxPath(n.dir));
        assert.equal(status.backlog, 0);
        assert.deepEqual(status.quarantine, { batches: 1, messages: 1 });
        const shown = await runCli(['status', '--dir', n.dir]);
        assert.match(shown.stdout, /quarantine {2}1 batches \(1 messages\) .*quarantine list/);
        const metrics = await new EdgeMetrics(n.outbox).registry.metrics();
        assert.match(metrics, /^palisade_edge_quarantined_batches 1$/m);
        assert.match(metrics, /^palisade_edge_quarantined_messages 1$/m);
        assert.match(metrics, /^palisade_edge_backlog_messages 0$/m);
        assert.match(
          await n.cli('list'),
          /PALISADE_INVALID_REQUEST.*\/body\/messages\/1\/deviceId/,
        );

        // Retried as it is, the platform refuses it again: back in quarantine, same batch.
        assert.match(await n.cli('retry', '--batch', batch.batchId), /1 messages back/);
        assert.equal(n.outbox.waiting(), 1);
        assert.deepEqual(await syncAll(n.outbox, n.loop), []);
        assert.deepEqual(
          (await n.listed()).map((b) => b.batchId),
          [batch.batchId],
        );
        assert.equal(n.setAside.length, 2);

        assert.match(await n.cli('discard', '--batch', batch.batchId), /1 messages discarded/);
        assert.equal(n.outbox.size(), 0);
        assert.deepEqual(await n.listed(), []);
        const gone = await runCli([
          'quarantine',
          'discard',
          '--batch',
          batch.batchId,
          '--dir',
          n.dir,
        ]);
        assert.equal(gone.code, 1);
        assert.match(gone.stderr, /is not in quarantine/);
      } finally {
        n.done();
      }
    });

    test('messages the platform refuses by index in a batch it applies are set aside by code, not deleted', async () => {
      const n = await node('refused-by-index');
      try {
        const stranger = (await link.call('POST', '/v1/devices', key, { name: 'not-the-nodes' }))
          .body.id as string;
        const unknown = '0190f7a2-0000-7000-8000-000000000000';
        n.outbox.accept(n.device, point(40));
        n.outbox.accept(stranger, point(41));
        n.outbox.accept(n.device, point(42));
        n.outbox.accept(unknown, point(43));
        n.outbox.accept(stranger, point(44));
        assert.deepEqual(await syncAll(n.outbox, n.loop), []);
        assert.deepEqual(await link.values(key, n.device), [40, 42]);
        assert.equal(n.outbox.size(), 3, 'the three refused messages stay in the outbox');
        const listed = await n.listed();
        const byCode = new Map(listed.map((b) => [b.refusal.code, b]));
        const notAssigned = byCode.get('PALISADE_EDGE_DEVICE_NOT_ASSIGNED');
        assert.equal(notAssigned?.messages, 2);
        assert.deepEqual(notAssigned?.devices, [stranger]);
        assert.equal(notAssigned?.sent, false, 'the platform applied none of them');
        assert.equal(notAssigned?.refusal.status, 200);
        assert.deepEqual(
          notAssigned?.refusal.errors.map((e) => e.path),
          ['/body/messages/1', '/body/messages/4'],
        );
        const notFound = byCode.get('PALISADE_DEVICE_NOT_FOUND');
        assert.equal(notFound?.messages, 1);
        assert.deepEqual(notFound?.devices, [unknown]);
        assert.deepEqual(
          n.setAside.map((a) => [a.batchId, a.messages]).sort(),
          listed.map((b) => [b.batchId, b.messages]).sort(),
          'each set aside is told',
        );
        assert.deepEqual(readOutboxStatus(outboxPath(n.dir)).quarantine, {
          batches: 2,
          messages: 3,
        });

        // The operator assigns the device to the node and retries: they apply, once.
        const moved = await link.call('PATCH', `/v1/devices/${stranger}`, key, {
          edgeNodeId: n.file.nodeId,
        });
        assert.equal(moved.status, 200, JSON.stringify(moved.body));
        await n.cli('retry', '--batch', notAssigned!.batchId);
        assert.deepEqual(await syncAll(n.outbox, n.loop), []);
        assert.deepEqual(await link.values(key, stranger), [41, 44]);
        assert.deepEqual(
          (await n.listed()).map((b) => b.batchId),
          [notFound!.batchId],
        );
      } finally {
        n.done();
      }
    });

    test('the running node counts as synced only the messages the platform applied', async () => {
      const n = await node('synced-count');
      try {
        const stranger = (await link.call('POST', '/v1/devices', key, { name: 'not-synced' })).body
          .id as string;
        n.outbox.accept(n.device, point(50));
        n.outbox.accept(stranger, point(51));
        n.outbox.accept(n.device, point(52));
        n.outbox.close();
        const { edge, started } = await startNode(n.dir, [], ['--metrics', '127.0.0.1:0']);
        try {
          await until(drained(n.dir));
          await until(() => edge.logs.some((l) => l.event === 'synced'));
          assert.deepEqual(await link.values(key, n.device), [50, 52]);
          const text = await (await fetch(started.metrics!)).text();
          for (const line of [
            'palisade_edge_synced_messages_total 2',
            'palisade_edge_sync_batches_total{outcome="confirmed"} 1',
            'palisade_edge_quarantined_messages 1',
          ])
            assert.ok(text.includes(line), `${line} in\n${text}`);
        } finally {
          await edge.stop();
        }
      } finally {
        n.done();
      }
    });

    test("a 200 that is not the platform's answer to the batch (a proxy's page) confirms nothing", async () => {
      const n = await node('proxy-200');
      let pages = 0;
      link.fault = () => (pages === 0 ? 'hold-response' : 'pass');
      link.onFault = (_fault, res) => {
        pages++;
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Welcome</html>');
      };
      try {
        n.outbox.accept(n.device, point(50));
        const error = await n.loop.syncOnce().catch((e: unknown) => e);
        assert.ok(error instanceof PlatformRefusedError, String(error));
        assert.equal(error.status, 200);
        assert.equal(n.outbox.waiting(), 1, 'the batch is kept');
        assert.deepEqual(await syncAll(n.outbox, n.loop), []);
        assert.deepEqual(await link.values(key, n.device), [50], 'applied once');
        assert.equal(n.outbox.size(), 0);
      } finally {
        link.fault = () => 'pass';
        link.onFault = () => {};
        n.done();
      }
    });

    test('a batch id the platform applied with other content is set aside whole, and sent again only under new ids', async () => {
      const n = await node('conflict');
      try {
        for (const i of [10, 11, 12]) n.outbox.accept(n.device, point(i));
        const formed = n.outbox.nextBatch(2, () => 'conflicting-id');
        assert.equal(formed?.messages.length, 2);
        const other = signedBatch(n.signer, 'conflicting-id', [
          { deviceId: n.device, payload: point(99), receivedAt: base },
        ]);
        assert.equal(
          (await link.call('POST', '/v1/edge/batches', n.file.credential, other)).status,
          200,
        );

        assert.deepEqual(await syncAll(n.outbox, n.loop), []);
        assert.deepEqual(await link.values(key, n.device), [12, 99], 'the batch behind went on');
        const [batch] = await n.listed();
        assert.equal(batch?.batchId, 'conflicting-id');
        assert.equal(batch?.messages, 2);
        assert.equal(batch?.refusal.status, 409);
        assert.equal(batch?.refusal.code, 'PALISADE_EDGE_BATCH_CONFLICT');

        await n.cli('retry', '--batch', 'conflicting-id');
        await syncAll(n.outbox, n.loop);
        assert.equal((await n.listed()).length, 1, 'the same id and content meet the same refusal');

        assert.match(
          await n.cli('retry', '--batch', 'conflicting-id', '--as-new'),
          /new batch ids/,
        );
        assert.deepEqual(await syncAll(n.outbox, n.loop), []);
        assert.deepEqual(await link.values(key, n.device), [10, 11, 12, 99]);
        assert.deepEqual(await n.listed(), []);
        assert.equal(n.outbox.size(), 0);
      } finally {
        n.done();
      }
    });

    test("a refusal of a batch's form, of the node, or none of the platform's, is not for good", async () => {
      const n = await node('form');
      try {
        const send = async (batch: unknown) => {
          const reply = await link.call('POST', '/v1/edge/batches', n.file.credential, batch);
          return new PlatformRefusedError(reply.status, JSON.stringify(reply.body));
        };
        const message = { deviceId: TOO_LONG, payload: point(30), receivedAt: base };
        const named = await send(signedBatch(n.signer, 'named', [message]));
        assert.deepEqual(refusedForGood(named)?.messages, [0]);
        const form = await send({
          ...signedBatch(n.signer, 'form', [{ ...message, deviceId: n.device }]),
          createdAt: 'yesterday',
        });
        assert.equal(form.status, 400);
        assert.equal(refusedForGood(form), undefined, 'every batch would meet it');
        const where = { url: link.url, nodeId: n.file.nodeId };
        assert.equal(diagnose(form, where, n.dir, 'outbox.db').kind, 'platform-refused');
        const proxy = new PlatformRefusedError(400, '<html><body>Bad Request</body></html>');
        assert.equal(refusedForGood(proxy), undefined, "a proxy's page decides nothing");
        assert.match(diagnose(proxy, where, n.dir, 'outbox.db').action, /a proxy\?/);
        await link.call('PATCH', `/v1/edge-nodes/${n.file.nodeId}`, key, { disabled: true });
        const disabled = await send(
          signedBatch(n.signer, 'off', [{ ...message, deviceId: n.device }]),
        );
        assert.equal(disabled.status, 403);
        assert.equal(refusedForGood(disabled), undefined);
        assert.equal(diagnose(disabled, where, n.dir, 'outbox.db').kind, 'node-refused');
      } finally {
        n.done();
      }
    });

    test('a batch an earlier send may have had applied is set aside as it is, never split', async () => {
      const n = await node('sent-before');
      // The first send is cut after its body left the node: it may have reached the platform.
      let first: string | undefined;
      link.fault = (batchId) => {
        if (first !== undefined) return 'pass';
        first = batchId;
        return 'drop-request';
      };
      try {
        n.outbox.accept(n.device, point(20));
        n.outbox.accept(TOO_LONG, point(21));
        n.outbox.accept(n.device, point(22));
        const errors = await syncAll(n.outbox, n.loop);
        assert.equal(errors.length, 1, 'the dropped send failed as a link failure');
        const [whole] = await n.listed();
        assert.equal(whole?.batchId, first);
        assert.equal(whole?.messages, 3);
        assert.equal(whole?.sent, true);
        assert.match(await n.cli('list'), /may have been applied/);

        const retried = await n.cli('retry', '--batch', whole.batchId, '--as-new');
        assert.match(retried, /applied again/);
        assert.deepEqual(await syncAll(n.outbox, n.loop), []);
        assert.deepEqual(await link.values(key, n.device), [20, 22]);
        const [alone] = await n.listed();
        assert.equal(alone?.messages, 1);
        assert.deepEqual(alone?.devices, [TOO_LONG]);
      } finally {
        link.fault = () => 'pass';
        n.done();
      }
    });
  });
}
