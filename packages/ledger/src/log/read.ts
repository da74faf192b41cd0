/** Root hashes and proofs computed from a log's stored complete-subtree hashes. */
import { LedgerError } from '../errors.ts';
import { splitPoint } from '../merkle/bits.ts';
import type { MerkleHasher } from '../merkle/hasher.ts';
import { checkSize, foldRight, rangeNodes } from '../merkle/tree.ts';
import type { HashReader, NodeKey } from './types.ts';

type Range = readonly [start: number, end: number];

/** Reads, in one batch, the hashes of the given leaf ranges. */
async function rangeHashes(
  hasher: MerkleHasher,
  reader: HashReader,
  ranges: readonly Range[],
): Promise<Uint8Array[]> {
  const perRange = ranges.map(([start, end]) => rangeNodes(start, end));
  const keys: NodeKey[] = perRange.flat();
  if (keys.length === 0) return [];
  const hashes = await reader.readNodes(keys);
  if (hashes.length !== keys.length) {
    throw new LedgerError(
      'LEDGER_MISSING_NODE',
      `readNodes returned ${hashes.length} hashes for ${keys.length} keys`,
    );
  }
  let at = 0;
  return perRange.map((nodes) => {
    const slice = hashes.slice(at, at + nodes.length);
    at += nodes.length;
    return foldRight(hasher, slice);
  });
}

/** The root hash of the log at `size` (reads O(log n) nodes). */
export async function treeRoot(
  hasher: MerkleHasher,
  reader: HashReader,
  size: number,
): Promise<Uint8Array> {
  checkSize(size, 'size');
  if (size === 0) return hasher.emptyRoot();
  const [root] = await rangeHashes(hasher, reader, [[0, size]]);
  return root!;
}

/** The RFC 9162 inclusion proof (leaf to root) for leaf `index` in the tree of `size`. */
export async function inclusionProof(
  hasher: MerkleHasher,
  reader: HashReader,
  index: number,
  size: number,
): Promise<Uint8Array[]> {
  checkSize(index, 'index');
  checkSize(size, 'size');
  if (index >= size)
    throw new LedgerError('LEDGER_INVALID_ARGUMENT', `index ${index} is not below size ${size}`);
  const ranges: Range[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      ranges.push([lo + k, hi]);
      hi = lo + k;
    } else {
      ranges.push([lo, lo + k]);
      lo += k;
    }
  }
  return (await rangeHashes(hasher, reader, ranges)).reverse();
}

/** The RFC 9162 consistency proof from the tree of `size1` to the tree of `size2`. */
export async function consistencyProof(
  hasher: MerkleHasher,
  reader: HashReader,
  size1: number,
  size2: number,
): Promise<Uint8Array[]> {
  checkSize(size1, 'size1');
  checkSize(size2, 'size2');
  if (size1 > size2)
    throw new LedgerError('LEDGER_INVALID_ARGUMENT', `size1 ${size1} is above size2 ${size2}`);
  if (size1 === 0 || size1 === size2) return [];
  const ranges: Range[] = [];
  let lo = 0;
  let hi = size2;
  let m = size1;
  let complete = true;
  for (;;) {
    if (m === hi - lo) {
      if (!complete) ranges.push([lo, hi]);
      break;
    }
    const k = splitPoint(hi - lo);
    if (m <= k) {
      ranges.push([lo + k, hi]);
      hi = lo + k;
    } else {
      ranges.push([lo, lo + k]);
      lo += k;
      m -= k;
      complete = false;
    }
  }
  return (await rangeHashes(hasher, reader, ranges)).reverse();
}
