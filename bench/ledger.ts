/**
 * `npm run bench -- ledger`: the ledger's figures from one run. First the pure Merkle math
 * (SHA-256 limit, appends, 1M-leaf inclusion proofs: see ledger-proofs.ts), then leaf appends
 * through the server's real write path (`sealBatch` into tenant SQLite files, fsync'd),
 * for one tenant and for 1,000 tenants, each beside the hash-rate limit.
 */
import { hash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, openStores } from '@palisade/server';
import { uuid7 } from '../packages/server/src/ids/uuid7.ts';
import { sealBatch } from '../packages/server/src/ledger/seal-batch.ts';
import type { TenantStore } from '../packages/server/src/store/index.ts';
import { run as runProofs } from './ledger-proofs.ts';

/** Wall time per measured phase. */
const PHASE_MS = 4_000;
/** Leaves appended per transaction in the batched phases (one fsync each). */
const LEAVES_PER_TX = 100;
const TENANTS = 1_000;
/** Writes per group commit in the entries phase (the committer's default bound is 256). */
const ENTRIES_PER_GROUP = 256;

function hashLimit(): number {
  const data = randomBytes(64);
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < 500) {
    for (let i = 0; i < 10_000; i++) hash('sha256', data, 'buffer');
    count += 10_000;
  }
  return (count * 1000) / (performance.now() - start);
}

const event = (i: number) => ({
  actor: 'bench',
  action: 'record.create',
  resource: `collections/b/records/${i}`,
  state: { i },
});

/**
 * Appends to the given stores round-robin for PHASE_MS: `leavesPerTx` leaves per fsync'd
 * commit, each leaf a batch of `entriesPerLeaf` entries (a group commit carrying that many
 * writes). Returns leaves and entries per second.
 */
async function appendPhase(
  stores: readonly TenantStore[],
  leavesPerTx: number,
  entriesPerLeaf = 1,
): Promise<{ leaves: number; entries: number }> {
  let leaves = 0;
  let turn = 0;
  const start = performance.now();
  while (performance.now() - start < PHASE_MS) {
    const store = stores[turn++ % stores.length]!;
    await store.transaction(async (tx) => {
      for (let i = 0; i < leavesPerTx; i++) {
        const base = (leaves + i) * entriesPerLeaf;
        const events = Array.from({ length: entriesPerLeaf }, (_, k) => event(base + k));
        await sealBatch(tx, store.tenantId, events);
      }
    });
    leaves += leavesPerTx;
  }
  const seconds = (performance.now() - start) / 1000;
  return { leaves: leaves / seconds, entries: (leaves * entriesPerLeaf) / seconds };
}

function line(label: string, perSecond: number, limit: number): void {
  const ratio = ((perSecond / limit) * 100).toFixed(1);
  console.log(
    `  ${label.padEnd(52)} ${Math.round(perSecond).toLocaleString('en-US').padStart(9)}/s   ${ratio.padStart(5)}% of hash rate ÷ 2`,
  );
}

export async function run(args: string[]): Promise<void> {
  await runProofs(args);
  const data = mkdtempSync(join(tmpdir(), 'palisade-bench-ledger-'));
  const stores = await openStores(
    loadSettings({
      flags: { data, sqliteMaxOpenTenants: String(TENANTS + 8) },
      env: {},
      configFile: null,
    }),
  );
  try {
    const shard = stores.shards.get('s1')!;
    console.log(
      '\nleaf appends through the server write path (sealBatch → tenant SQLite, synchronous=FULL)',
    );
    const one = [await shard.tenant(uuid7())];
    const many: TenantStore[] = [];
    for (let i = 0; i < TENANTS; i++) many.push(await shard.tenant(uuid7()));
    const limit = hashLimit() / 2;
    console.log(
      `  ${'limit: SHA-256 of 64 bytes ÷ 2 (node:crypto)'.padEnd(52)} ${Math.round(limit).toLocaleString('en-US').padStart(9)}/s`,
    );
    line("one tenant, one leaf per fsync'd commit", (await appendPhase(one, 1)).leaves, limit);
    line(
      `one tenant, ${LEAVES_PER_TX} leaves per commit`,
      (await appendPhase(one, LEAVES_PER_TX)).leaves,
      limit,
    );
    line(
      `${TENANTS.toLocaleString('en-US')} tenants, one leaf per commit`,
      (await appendPhase(many, 1)).leaves,
      limit,
    );
    line(
      `${TENANTS.toLocaleString('en-US')} tenants, ${LEAVES_PER_TX} leaves per commit`,
      (await appendPhase(many, LEAVES_PER_TX)).leaves,
      limit,
    );
    const grouped = await appendPhase(one, 1, ENTRIES_PER_GROUP);
    line(
      `one tenant, group commits of ${ENTRIES_PER_GROUP} writes: entries`,
      grouped.entries,
      limit,
    );
    console.log(
      '  (a leaf is one group commit: under load it carries many writes, so writes/s is a multiple of leaves/s)',
    );
  } finally {
    await stores.close();
    rmSync(data, { recursive: true, force: true });
  }
}
