/**
 * Two machines running copies of one enrolled node directory (copied to a second gateway, or
 * restored from a backup) would each send what the directory held when it was copied, under
 * batch ids of their own: the platform would apply it twice. Each batch carries the node's
 * own count of the batches it formed, so the copy that sends a number the other already had
 * applied is refused (409 PALISADE_EDGE_NODE_CLONED) and alerted; it keeps its outbox.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { backendNames } from '../../server/test/support/backends.ts';
import { diagnose } from '../src/cli/commands/sync-diagnosis.ts';
import { DEFAULT_SYNC, Outbox, SyncLoop } from '../src/index.ts';
import { outboxPath, readNodeFile } from '../src/node-file.ts';
import { PlatformRefusedError } from '../src/platform-call.ts';
import { enrollNode, PlatformLink, runCli } from './support/edge-harness.ts';

for (const backend of backendNames()) {
  describe(`a copied node directory, on ${backend}`, () => {
    let link: PlatformLink;
    let key: string;
    const base = Date.now() - 60_000;
    const point = (n: number) => ({ ts: base + n, values: { n } });
    const dirs: string[] = [];

    before(async () => {
      link = await PlatformLink.start(backend);
      ({ key } = await link.api.tenant('cloned'));
    });
    after(async () => {
      await link.close();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    /** The outbox of the node in `dir` and a sync loop over it. */
    function copyOf(dir: string) {
      const file = readNodeFile(dir);
      const outbox = new Outbox(outboxPath(dir), Buffer.from(file.outboxKey, 'base64'), {
        maxMessages: 100,
      });
      const loop = new SyncLoop(outbox, file, { ...DEFAULT_SYNC, batchMaxMessages: 10 });
      return { dir, file, outbox, loop };
    }

    /** Sends until nothing waits; throws what the platform refused. */
    async function syncAll({ outbox, loop }: ReturnType<typeof copyOf>): Promise<void> {
      while (outbox.waiting() > 0) await loop.syncOnce();
    }

    /** Messages the platform applied, over every batch it answered (each counted once). */
    function appliedMessages(): number {
      let applied = 0;
      for (const [, answers] of link.answers) {
        const first = JSON.parse(answers[0]!) as { applied?: number };
        applied += first.applied ?? 0;
      }
      return applied;
    }

    test('the second copy to send is refused and alerted, keeps its outbox, and nothing applies twice', async () => {
      const original = mkdtempSync(join(tmpdir(), 'edge-original-'));
      const clone = mkdtempSync(join(tmpdir(), 'edge-clone-'));
      dirs.push(original, clone);
      const file = await enrollNode(link, key, original, 'cloned');
      const device = (
        await link.call('POST', '/v1/devices', key, { name: 'behind', edgeNodeId: file.nodeId })
      ).body.id as string;
      const before = copyOf(original);
      for (const n of [0, 1, 2]) before.outbox.accept(device, point(n));
      before.outbox.close();
      cpSync(original, clone, { recursive: true });

      const a = copyOf(original);
      const b = copyOf(clone);
      try {
        a.outbox.accept(device, point(3));
        b.outbox.accept(device, point(4));
        await syncAll(a);
        assert.deepEqual(await link.values(key, device), [0, 1, 2, 3]);

        const refused = await b.loop.syncOnce().catch((error: unknown) => error);
        assert.ok(refused instanceof PlatformRefusedError, String(refused));
        assert.equal(refused.status, 409);
        assert.equal(refused.problem?.code, 'PALISADE_EDGE_NODE_CLONED');
        const told = diagnose(refused, { url: link.url, nodeId: file.nodeId }, clone, 'outbox.db');
        assert.equal(told.kind, 'node-cloned');
        assert.match(told.action, /Stop the copy that should not run/);
        assert.equal(b.outbox.waiting(), 4, 'the refused copy keeps everything');
        assert.deepEqual(b.outbox.quarantine.counts(), { batches: 0, messages: 0 });
        assert.equal(appliedMessages(), 4, "nothing of the copy's is applied");

        const alerts = await link.call('GET', `/v1/edge-nodes/${file.nodeId}/alerts`, key);
        assert.deepEqual(
          alerts.body.items.map((x: { kind: string }) => x.kind),
          ['node-cloned'],
        );

        // The first copy goes on; the second stays refused however often it resends.
        a.outbox.accept(device, point(5));
        await syncAll(a);
        await assert.rejects(b.loop.syncOnce(), /PALISADE_EDGE_NODE_CLONED/);
        assert.deepEqual(await link.values(key, device), [0, 1, 2, 3, 5]);
        assert.equal(appliedMessages(), 5);

        // The operator keeps the second copy: a re-key there starts a new count, and the
        // first copy's credential is revoked.
        const rekey = await link.call('POST', `/v1/edge-nodes/${file.nodeId}/rekey`, key);
        b.outbox.close();
        const rekeyed = await runCli([
          'enroll',
          '--rekey',
          '--token',
          rekey.body.token,
          '--dir',
          clone,
        ]);
        assert.equal(rekeyed.code, 0, rekeyed.stderr);
        const kept = copyOf(clone);
        try {
          await syncAll(kept);
        } finally {
          kept.outbox.close();
        }
        assert.deepEqual(await link.values(key, device), [0, 1, 2, 3, 4, 5]);
        a.outbox.accept(device, point(6));
        await assert.rejects(syncAll(a), /PALISADE_EDGE_UNAUTHENTICATED/);
      } finally {
        a.outbox.close();
        b.outbox.close();
      }
    });
  });
}
