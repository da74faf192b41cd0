/**
 * Appending to a log stored as complete-subtree hashes. Stateless: the caller passes the
 * current size, persists the returned nodes in the same transaction as its data, and a
 * rollback simply discards them.
 */
import { LedgerError } from '../errors.ts';
import { HASH_SIZE, type MerkleHasher } from '../merkle/hasher.ts';
import { checkSize, foldRight, rangeNodes } from '../merkle/tree.ts';
import type { HashReader, TreeNode } from './types.ts';

/** The outcome of {@link appendLeaves}. */
export interface AppendResult {
  /** The new tree size. */
  readonly size: number;
  /** The new root hash. */
  readonly root: Uint8Array;
  /** Every newly completed subtree, including the new leaves (level 0), to persist. */
  readonly nodes: TreeNode[];
}

/**
 * Appends `leafHashes` to the log of `size` leaves. Reads only the O(log n) subtrees on the
 * right border of the current tree (one `readNodes` call).
 */
export async function appendLeaves(
  hasher: MerkleHasher,
  reader: HashReader,
  size: number,
  leafHashes: readonly Uint8Array[],
): Promise<AppendResult> {
  checkSize(size, 'size');
  checkSize(size + leafHashes.length, 'new size');
  const border = rangeNodes(0, size);
  const borderHashes = border.length > 0 ? await reader.readNodes(border) : [];
  const stack: TreeNode[] = border.map((key, i) => ({ ...key, hash: borderHashes[i]! }));
  const nodes: TreeNode[] = [];
  for (let j = 0; j < leafHashes.length; j++) {
    const hash = leafHashes[j]!;
    if (hash.length !== HASH_SIZE) {
      throw new LedgerError(
        'LEDGER_INVALID_ARGUMENT',
        `leafHashes[${j}] is ${hash.length} bytes, want ${HASH_SIZE}`,
      );
    }
    let node: TreeNode = { level: 0, index: size + j, hash };
    nodes.push(node);
    while (stack.length > 0 && stack[stack.length - 1]!.level === node.level) {
      const left = stack.pop()!;
      node = {
        level: node.level + 1,
        index: left.index / 2,
        hash: hasher.nodeHash(left.hash, node.hash),
      };
      nodes.push(node);
    }
    stack.push(node);
  }
  const newSize = size + leafHashes.length;
  const root =
    newSize === 0
      ? hasher.emptyRoot()
      : foldRight(
          hasher,
          stack.map((n) => n.hash),
        );
  return { size: newSize, root, nodes };
}
