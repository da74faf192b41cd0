import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  appendLeaves,
  consistencyProof,
  inclusionProof,
  isLedgerError,
  MemoryHashStore,
  rootFromLeafHashes,
  toHex,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
} from '../src/index.ts';
import { nodeHasher as hasher } from '../src/node/index.ts';

const MAX_SIZE = 3000;

/** A log of `MAX_SIZE` deterministic leaves, built once. */
const leaves = Array.from({ length: MAX_SIZE }, (_, i) =>
  hasher.leafHash(new TextEncoder().encode(`leaf ${i}`)),
);
const store = new MemoryHashStore();
store.writeNodes((await appendLeaves(hasher, store, 0, leaves)).nodes);
const roots = new Map<number, Uint8Array>();
async function rootAt(size: number): Promise<Uint8Array> {
  let root = roots.get(size);
  if (root === undefined) {
    root = await treeRoot(hasher, store, size);
    roots.set(size, root);
  }
  return root;
}

/** Counts node reads so tests can check the O(log n) bound. */
class CountingReader {
  reads = 0;
  calls = 0;
  async readNodes(keys: readonly { level: number; index: number }[]): Promise<Uint8Array[]> {
    this.calls++;
    this.reads += keys.length;
    return store.readNodes(keys);
  }
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[at % copy.length]! ^= 1 << (at % 8);
  return copy;
}

const rejects = (e: unknown) => isLedgerError(e, 'LEDGER_INVALID_PROOF');
const sizeAndIndex = fc
  .integer({ min: 1, max: MAX_SIZE })
  .chain((size) =>
    fc.record({ size: fc.constant(size), index: fc.integer({ min: 0, max: size - 1 }) }),
  );
const twoSizes = fc
  .tuple(fc.integer({ min: 1, max: MAX_SIZE }), fc.integer({ min: 1, max: MAX_SIZE }))
  .map(([a, b]) => ({ size1: Math.min(a, b), size2: Math.max(a, b) }));

describe('inclusion proofs (property)', () => {
  it('every generated proof verifies, reading O(log n) nodes in one call', async () => {
    await fc.assert(
      fc.asyncProperty(sizeAndIndex, async ({ size, index }) => {
        const reader = new CountingReader();
        const proof = await inclusionProof(hasher, reader, index, size);
        assert.ok(reader.calls <= 1);
        assert.ok(reader.reads <= 2 * Math.ceil(Math.log2(size + 1)) + 1, `${reader.reads} reads`);
        verifyInclusion(hasher, leaves[index]!, index, size, proof, await rootAt(size));
      }),
      { numRuns: 300 },
    );
  });

  it('any changed byte, index or size is rejected', async () => {
    await fc.assert(
      fc.asyncProperty(sizeAndIndex, fc.nat(), fc.nat(), async ({ size, index }, pick, at) => {
        const proof = await inclusionProof(hasher, store, index, size);
        const root = await rootAt(size);
        const leaf = leaves[index]!;
        assert.throws(
          () => verifyInclusion(hasher, flip(leaf, at), index, size, proof, root),
          rejects,
        );
        assert.throws(
          () => verifyInclusion(hasher, leaf, index, size, proof, flip(root, at)),
          rejects,
        );
        if (proof.length > 0) {
          const i = pick % proof.length;
          const bad = proof.map((p, j) => (j === i ? flip(p, at) : p));
          assert.throws(() => verifyInclusion(hasher, leaf, index, size, bad, root), rejects);
        }
        const otherIndex = (index + 1 + (pick % size)) % (size + 1);
        if (otherIndex !== index) {
          assert.throws(
            () => verifyInclusion(hasher, leaf, otherIndex, size, proof, root),
            rejects,
          );
        }
        // A size is bound by its root: claiming another size means claiming that size's root.
        const otherSize = index + 1 + (pick % (MAX_SIZE - index));
        if (otherSize !== size) {
          const otherRoot = await rootAt(otherSize);
          assert.throws(
            () => verifyInclusion(hasher, leaf, index, otherSize, proof, otherRoot),
            rejects,
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('consistency proofs (property)', () => {
  it('every generated proof verifies, reading O(log n) nodes in one call', async () => {
    await fc.assert(
      fc.asyncProperty(twoSizes, async ({ size1, size2 }) => {
        const reader = new CountingReader();
        const proof = await consistencyProof(hasher, reader, size1, size2);
        assert.ok(reader.calls <= 1);
        assert.ok(reader.reads <= 2 * Math.ceil(Math.log2(size2 + 1)) + 2, `${reader.reads} reads`);
        verifyConsistency(hasher, size1, size2, proof, await rootAt(size1), await rootAt(size2));
      }),
      { numRuns: 300 },
    );
  });

  it('any changed byte or size is rejected', async () => {
    await fc.assert(
      fc.asyncProperty(twoSizes, fc.nat(), fc.nat(), async ({ size1, size2 }, pick, at) => {
        const proof = await consistencyProof(hasher, store, size1, size2);
        const root1 = await rootAt(size1);
        const root2 = await rootAt(size2);
        assert.throws(
          () => verifyConsistency(hasher, size1, size2, proof, flip(root1, at), root2),
          rejects,
        );
        assert.throws(
          () => verifyConsistency(hasher, size1, size2, proof, root1, flip(root2, at)),
          rejects,
        );
        if (proof.length > 0) {
          const i = pick % proof.length;
          const bad = proof.map((p, j) => (j === i ? flip(p, at) : p));
          assert.throws(() => verifyConsistency(hasher, size1, size2, bad, root1, root2), rejects);
        }
        // Sizes are bound by their roots: claiming another size means claiming its root.
        const other1 = 1 + ((size1 + pick) % size2);
        if (other1 !== size1) {
          const otherRoot = await rootAt(other1);
          assert.throws(
            () => verifyConsistency(hasher, other1, size2, proof, otherRoot, root2),
            rejects,
          );
        }
        const other2 = size1 + ((size2 - size1 + 1 + pick) % (MAX_SIZE - size1 + 1));
        if (other2 !== size2) {
          const otherRoot = await rootAt(other2);
          assert.throws(
            () => verifyConsistency(hasher, size1, other2, proof, root1, otherRoot),
            rejects,
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('appendLeaves (property)', () => {
  it('any chunking gives the same root and nodes as building at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 600 }),
        fc.array(fc.integer({ min: 0, max: 70 }), { minLength: 1, maxLength: 40 }),
        async (total, chunks) => {
          const chunked = new MemoryHashStore();
          let size = 0;
          let root = hasher.emptyRoot();
          for (let c = 0; size < total; c++) {
            const take = Math.min(chunks[c % chunks.length]!, total - size);
            const result = await appendLeaves(
              hasher,
              chunked,
              size,
              leaves.slice(size, size + take),
            );
            chunked.writeNodes(result.nodes);
            ({ size, root } = result);
            if (take === 0 && chunks.every((n) => n === 0)) break;
          }
          if (size < total) return;
          assert.equal(toHex(root), toHex(rootFromLeafHashes(hasher, leaves.slice(0, total))));
          if (total > 0) assert.equal(toHex(await treeRoot(hasher, chunked, total)), toHex(root));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reports every completed subtree exactly once', async () => {
    const fresh = new MemoryHashStore();
    const first = await appendLeaves(hasher, fresh, 0, leaves.slice(0, 5));
    fresh.writeNodes(first.nodes);
    const second = await appendLeaves(hasher, fresh, 5, leaves.slice(5, 8));
    const keys = (n: { level: number; index: number }[]) =>
      n.map(({ level, index }) => `${level}/${index}`);
    assert.deepEqual(keys(first.nodes), ['0/0', '0/1', '1/0', '0/2', '0/3', '1/1', '2/0', '0/4']);
    assert.deepEqual(keys(second.nodes), ['0/5', '1/2', '0/6', '0/7', '1/3', '2/1', '3/0']);
  });
});
