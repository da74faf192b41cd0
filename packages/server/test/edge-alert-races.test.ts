/**
 * Edge alert coalescing under concurrency: occurrences of one alert against one node raised
 * in transactions that run at once (two batches in flight, or two platform processes on one
 * PostgreSQL shard) count on one alert; none is lost and none opens a second alert.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WriteEvent } from '../src/commit/index.ts';
import { GroupCommitter } from '../src/commit/index.ts';
import { EdgeAlerts } from '../src/edge/edge-alerts.ts';
import { uuid7 } from '../src/ids/index.ts';
import { sealBatch } from '../src/ledger/seal-batch.ts';
import { openStores, type Stores, type TenantStore } from '../src/store/index.ts';
import { type BackendFixture, backendNames, openBackend } from './support/backends.ts';

/** Occurrences raised at once; enough that, unguarded, several read "no open alert". */
const AT_ONCE = 6;

for (const backend of backendNames()) {
  describe(`edge alert coalescing under concurrency on ${backend}`, () => {
    let fixture: BackendFixture;
    let stores: Stores;
    let store: TenantStore;
    const nodeId = uuid7();
    const alerts = new EdgeAlerts({
      committer: new GroupCommitter({ maxBatch: 1, maxWaitMs: 0, seal: async () => undefined }),
      alertWindowMs: 60_000,
    });

    before(async () => {
      fixture = await openBackend(backend);
      stores = await openStores(fixture.settings);
      store = await stores.shards.get('s1')!.tenant(uuid7());
      const t = new Date().toISOString();
      await store.transaction((tx) =>
        tx.edge.putNode({
          id: nodeId,
          name: 'gw',
          status: 'active',
          ed25519: null,
          mldsa65: null,
          credentialHash: null,
          keyVersion: 1,
          createdAt: t,
          updatedAt: t,
        }),
      );
    });
    after(async () => {
      await stores.close();
      await fixture.cleanup();
    });

    test('occurrences raised in transactions running at once count on one alert', async () => {
      // Each as one process commits it: store the occurrence, then seal its ledger entry.
      const raise = (n: number) =>
        store.transaction(async (tx) => {
          const events: WriteEvent[] = [];
          const row = await alerts.store(tx, (event) => events.push(event), {
            nodeId,
            kind: 'forged-signature',
            batchId: `b-${n}`,
            detail: { n },
          });
          await sealBatch(tx, store.tenantId, events);
          return row;
        });
      const raised = await Promise.all(Array.from({ length: AT_ONCE }, (_, n) => raise(n)));
      const stored = await store.reader.edge.listAlerts(nodeId, { after: undefined, limit: 100 });
      assert.equal(stored.length, 1, 'one alert, not one per transaction that found none open');
      assert.equal(stored[0]?.count, AT_ONCE, 'every occurrence counted');
      assert.deepEqual(
        raised.map((row) => row.count).sort((x, y) => x - y),
        Array.from({ length: AT_ONCE }, (_, n) => n + 1),
        'each transaction saw the count its occurrence made',
      );
      const entries = await store.reader.ledgerEntries(0, 100);
      assert.deepEqual(
        entries.map((e) => (JSON.parse(e.entry) as { action: string }).action).sort(),
        ['edge.alert', ...Array<string>(AT_ONCE - 1).fill('edge.alert.repeat')],
        'one raise and the rest repeats in the ledger',
      );
    });
  });
}
