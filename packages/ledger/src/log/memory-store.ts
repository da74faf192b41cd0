/** An in-memory {@link HashReader} for tests, tools and offline verifiers. */
import { LedgerError } from '../errors.ts';
import type { HashReader, NodeKey, TreeNode } from './types.ts';

/** Holds complete-subtree hashes in per-level arrays. */
export class MemoryHashStore implements HashReader {
  readonly #levels: Uint8Array[][] = [];

  /** Returns the hashes for `keys`, in order; throws `LEDGER_MISSING_NODE` if one is absent. */
  async readNodes(keys: readonly NodeKey[]): Promise<Uint8Array[]> {
    return keys.map((key) => this.get(key));
  }

  /** The hash of one node; throws `LEDGER_MISSING_NODE` if absent. */
  get(key: NodeKey): Uint8Array {
    const hash = this.#levels[key.level]?.[key.index];
    if (hash === undefined) {
      throw new LedgerError(
        'LEDGER_MISSING_NODE',
        `no node at level ${key.level}, index ${key.index}`,
      );
    }
    return hash;
  }

  /** Stores nodes (typically `appendLeaves(...).nodes`). */
  writeNodes(nodes: readonly TreeNode[]): void {
    for (const node of nodes) {
      let level = this.#levels[node.level];
      if (level === undefined) {
        level = [];
        this.#levels[node.level] = level;
      }
      level[node.index] = node.hash;
    }
  }
}
