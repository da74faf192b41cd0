/** The storage contract of a Merkle log: the hashes of complete subtrees. */

/**
 * Identifies a complete subtree: level `level`, index `index` covers leaves
 * `[index·2^level, (index+1)·2^level)`. Level 0 nodes are leaf hashes.
 */
export interface NodeKey {
  readonly level: number;
  readonly index: number;
}

/** A complete subtree and its hash. */
export interface TreeNode extends NodeKey {
  readonly hash: Uint8Array;
}

/**
 * Reads stored subtree hashes. Implementations return hashes in the order of `keys` and
 * MUST throw if any is missing (`LEDGER_MISSING_NODE` is the conventional error).
 */
export interface HashReader {
  readNodes(keys: readonly NodeKey[]): Promise<Uint8Array[]>;
}
