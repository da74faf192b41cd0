import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isLedgerError,
  MemoryHashStore,
  MerkleLog,
  merkleHasher,
  rootFromLeafHashes,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from '../src/index.ts';
import { nodeHasher, nodeSha256 } from '../src/node/index.ts';
import { b64, hex, loadVectors } from './support.ts';

interface Tree8 {
  hasher_vectors: {
    desc: string;
    want_hex: string;
    leaf_hex?: string;
    left_hex?: string;
    right_hex?: string;
  }[];
  leaves_hex: string[];
  node_hashes_by_level_hex: string[][];
  roots_by_size: { size: number; root_hex: string }[];
}
interface InclusionProbe {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
  source_path: string;
}
interface ConsistencyProbe {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
  source_path: string;
}

const tree = loadVectors<Tree8>('rfc6962-tree-8-leaves.json');
const inclusion = loadVectors<{ vectors: InclusionProbe[] }>(
  'rfc6962-inclusion-proofs.json',
).vectors;
const consistency = loadVectors<{ vectors: ConsistencyProbe[] }>(
  'rfc6962-consistency-proofs.json',
).vectors;

for (const [label, hasher] of [
  ['node', nodeHasher],
  ['generic', merkleHasher(nodeSha256)],
] as const) {
  describe(`RFC 6962 tree vectors (${label} hasher)`, () => {
    it('hashes leaves, nodes and the empty tree', () => {
      for (const v of tree.hasher_vectors) {
        let got: Uint8Array;
        if (v.left_hex !== undefined) got = hasher.nodeHash(hex(v.left_hex), hex(v.right_hex!));
        else if (v.leaf_hex !== undefined) got = hasher.leafHash(hex(v.leaf_hex));
        else got = hasher.emptyRoot();
        assert.equal(toHex(got), v.want_hex, v.desc);
      }
    });

    it('computes roots for sizes 0..8, in memory and through the log store', async () => {
      const leaves = tree.leaves_hex.map((h) => hasher.leafHash(hex(h)));
      assert.deepEqual(
        leaves.map((l) => toHex(l)),
        tree.node_hashes_by_level_hex[0],
      );
      const store = new MemoryHashStore();
      const log = new MerkleLog(hasher, store);
      for (const { size, root_hex } of tree.roots_by_size) {
        assert.equal(toHex(rootFromLeafHashes(hasher, leaves.slice(0, size))), root_hex);
      }
      const appended = await log.append(0, leaves);
      store.writeNodes(appended.nodes);
      for (const { size, root_hex } of tree.roots_by_size)
        assert.equal(toHex(await log.root(size)), root_hex);
      for (const [level, hashes] of tree.node_hashes_by_level_hex.entries()) {
        for (const [index, h] of hashes.entries())
          assert.equal(toHex(store.get({ level, index })), h);
      }
    });
  });
}

describe('transparency-dev/merkle inclusion probes', () => {
  for (const p of inclusion) {
    it(`${p.source_path}: ${p.wantErr ? 'rejects' : 'accepts'}`, () => {
      const run = () =>
        verifyInclusion(
          nodeHasher,
          b64(p.leafHash),
          p.leafIdx,
          p.treeSize,
          (p.proof ?? []).map(b64),
          b64(p.root),
        );
      if (p.wantErr) assert.throws(run, (e) => isLedgerError(e, 'LEDGER_INVALID_PROOF'));
      else run();
    });
  }
});

describe('transparency-dev/merkle consistency probes', () => {
  for (const p of consistency) {
    it(`${p.source_path}: ${p.wantErr ? 'rejects' : 'accepts'}`, () => {
      const run = () =>
        verifyConsistency(
          nodeHasher,
          p.size1,
          p.size2,
          (p.proof ?? []).map(b64),
          b64(p.root1),
          b64(p.root2),
        );
      if (p.wantErr) assert.throws(run, (e) => isLedgerError(e, 'LEDGER_INVALID_PROOF'));
      else run();
    });
  }
});
