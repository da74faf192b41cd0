/**
 * `npm run bench -- ledger-proofs [leaves]`: throughput of the ledger's Merkle code against
 * the physical limit on this machine, raw SHA-256 via node:crypto. An append costs about two
 * hashes (leaf + amortized interior node); verifying a proof costs one hash per proof element.
 */
import { createHash, hash, randomBytes } from 'node:crypto';
import {
  appendLeaves,
  inclusionProof,
  MemoryHashStore,
  treeRoot,
  verifyInclusion,
} from '@palisade/ledger';
import { nodeHasher } from '@palisade/ledger/node';

/** Default log size for proof figures. */
const DEFAULT_LEAVES = 1_000_000;
/** Leaves per appendLeaves call while building the log. */
const APPEND_CHUNK = 1_000;
/** Wall time per measured phase. */
const PHASE_MS = 2_000;

function rate(count: number, ms: number): number {
  return (count * 1000) / ms;
}

function fmt(perSecond: number): string {
  return `${Math.round(perSecond).toLocaleString('en-US')}/s`;
}

function hashRate(label: string, fn: (data: Uint8Array) => unknown, ms = PHASE_MS): number {
  const data = randomBytes(64);
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 10_000; i++) fn(data);
    count += 10_000;
  }
  const perSecond = rate(count, performance.now() - start);
  if (label !== '') console.log(`  ${label.padEnd(44)} ${fmt(perSecond)}`);
  return perSecond;
}

/** The raw hash rate re-measured right next to a phase, so shared-machine drift cancels out. */
function adjacentLimit(): number {
  return hashRate('', (d) => hash('sha256', d, 'buffer'), PHASE_MS / 4);
}

/** Runs the benchmark; `args[0]` overrides the log size. */
export async function run(args: string[]): Promise<void> {
  const leaves = Number(args[0] ?? DEFAULT_LEAVES);
  console.log(
    `ledger-proofs: SHA-256 limit, appends, and proofs on a ${leaves.toLocaleString('en-US')}-leaf log\n`,
  );
  console.log('raw SHA-256 of 64-byte inputs (node:crypto)');
  hashRate('crypto.hash one-shot', (d) => hash('sha256', d, 'buffer'));
  hashRate('createHash().update().digest()', (d) => createHash('sha256').update(d).digest());

  console.log('\nappends (leafHash of 64-byte data + appendLeaves, in-memory store)');
  let limit = adjacentLimit();
  const store = new MemoryHashStore();
  const data = randomBytes(64);
  let size = 0;
  const start = performance.now();
  while (size < leaves) {
    const chunk: Uint8Array[] = [];
    for (let i = 0; i < Math.min(APPEND_CHUNK, leaves - size); i++) {
      data.writeUInt32BE(size + i, 0);
      chunk.push(nodeHasher.leafHash(data));
    }
    const result = await appendLeaves(nodeHasher, store, size, chunk);
    store.writeNodes(result.nodes);
    size = result.size;
  }
  const appendRate = rate(leaves, performance.now() - start);
  limit = (limit + adjacentLimit()) / 2;
  console.log(`  ${'leaf appends'.padEnd(44)} ${fmt(appendRate)}`);
  console.log(`  ${'limit (adjacent hash rate ÷ 2)'.padEnd(44)} ${fmt(limit / 2)}`);
  console.log(`  ${'ratio'.padEnd(44)} ${((appendRate / (limit / 2)) * 100).toFixed(1)}%`);

  console.log(`\ninclusion proofs at size ${leaves.toLocaleString('en-US')}`);
  const root = await treeRoot(nodeHasher, store, leaves);
  const samples: { index: number; leaf: Uint8Array; proof: Uint8Array[] }[] = [];
  let generated = 0;
  const genStart = performance.now();
  while (performance.now() - genStart < PHASE_MS) {
    const index = Math.floor(Math.random() * leaves);
    const proof = await inclusionProof(nodeHasher, store, index, leaves);
    if (samples.length < 10_000)
      samples.push({ index, leaf: store.get({ level: 0, index }), proof });
    generated++;
  }
  const genRate = rate(generated, performance.now() - genStart);
  console.log(`  ${'generated (one readNodes call each)'.padEnd(44)} ${fmt(genRate)}`);

  limit = adjacentLimit();
  let verified = 0;
  const verifyStart = performance.now();
  while (performance.now() - verifyStart < PHASE_MS) {
    for (const { index, leaf, proof } of samples)
      verifyInclusion(nodeHasher, leaf, index, leaves, proof, root);
    verified += samples.length;
  }
  const verifyRate = rate(verified, performance.now() - verifyStart);
  limit = (limit + adjacentLimit()) / 2;
  const proofLength = samples.reduce((n, s) => n + s.proof.length, 0) / samples.length;
  console.log(`  ${'verified'.padEnd(44)} ${fmt(verifyRate)}`);
  console.log(
    `  ${`limit (adjacent hash rate ÷ ${proofLength.toFixed(1)})`.padEnd(44)} ${fmt(limit / proofLength)}`,
  );
  console.log(
    `  ${'ratio'.padEnd(44)} ${((verifyRate / (limit / proofLength)) * 100).toFixed(1)}%`,
  );
}
