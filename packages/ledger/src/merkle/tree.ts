/** Merkle Tree Hash (RFC 9162 §2.1.1) over leaf hashes held in memory, and range helpers. */
import { LedgerError } from '../errors.ts';
import type { NodeKey } from '../log/types.ts';
import { bitLength, isSize } from './bits.ts';
import type { MerkleHasher } from './hasher.ts';

/** The root of the tree whose leaves have the given hashes, in order. */
export function rootFromLeafHashes(
  hasher: MerkleHasher,
  leafHashes: readonly Uint8Array[],
): Uint8Array {
  if (leafHashes.length === 0) return hasher.emptyRoot();
  // A stack of complete subtrees, merged as soon as two of equal height meet.
  const stack: Uint8Array[] = [];
  const heights: number[] = [];
  for (let i = 0; i < leafHashes.length; i++) {
    let hash = leafHashes[i]!;
    let height = 0;
    while (heights.length > 0 && heights[heights.length - 1] === height) {
      heights.pop();
      hash = hasher.nodeHash(stack.pop()!, hash);
      height++;
    }
    stack.push(hash);
    heights.push(height);
  }
  return foldRight(hasher, stack);
}

/** Folds complete-subtree hashes (left to right, decreasing sizes) into one root. */
export function foldRight(hasher: MerkleHasher, hashes: readonly Uint8Array[]): Uint8Array {
  let hash = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) hash = hasher.nodeHash(hashes[i]!, hash);
  return hash;
}

/**
 * The complete subtrees, largest first, whose concatenation is leaves `[start, end)`.
 * `start` must be aligned to the largest power of two not above `end - start`, which holds
 * for every range RFC 9162's recursive definitions produce.
 */
export function rangeNodes(start: number, end: number): NodeKey[] {
  const keys: NodeKey[] = [];
  let at = start;
  let remaining = end - start;
  while (remaining > 0) {
    const level = bitLength(remaining) - 1;
    const width = 2 ** level;
    keys.push({ level, index: at / width });
    at += width;
    remaining -= width;
  }
  return keys;
}

/** Throws `LEDGER_INVALID_ARGUMENT` unless `value` is a safe non-negative integer. */
export function checkSize(value: number, what: string): void {
  if (!isSize(value)) {
    throw new LedgerError(
      'LEDGER_INVALID_ARGUMENT',
      `${what} must be a safe non-negative integer, got ${value}`,
    );
  }
}
