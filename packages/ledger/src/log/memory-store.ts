/**
 * An in-memory {@link HashReader} for tests, tools and offline verifiers. Hashes are packed
 * into one growable buffer per level rather than kept as millions of small arrays, which
 * keeps garbage-collection cost flat for large logs.
 */
import { LedgerError } from '../errors.ts';
import { HASH_SIZE } from '../merkle/hasher.ts';
import type { HashReader, NodeKey, TreeNode } from './types.ts';

interface Level {
  hashes: Uint8Array;
  present: Uint8Array;
}

/** Initial node capacity of a level; capacity doubles as needed. */
const INITIAL_CAPACITY = 1024;

/** Holds complete-subtree hashes in packed per-level buffers. */
export class MemoryHashStore implements HashReader {
  readonly #levels: Level[] = [];

  /** Returns the hashes for `keys`, in order; throws `LEDGER_MISSING_NODE` if one is absent. */
  async readNodes(keys: readonly NodeKey[]): Promise<Uint8Array[]> {
    return keys.map((key) => this.get(key));
  }

  /** The hash of one node (a view into the store); throws `LEDGER_MISSING_NODE` if absent. */
  get(key: NodeKey): Uint8Array {
    const level = this.#levels[key.level];
    if (level === undefined || level.present[key.index] !== 1) {
      throw new LedgerError(
        'LEDGER_MISSING_NODE',
        `no node at level ${key.level}, index ${key.index}`,
      );
    }
    return level.hashes.subarray(key.index * HASH_SIZE, (key.index + 1) * HASH_SIZE);
  }

  /** Stores nodes (typically `appendLeaves(...).nodes`). */
  writeNodes(nodes: readonly TreeNode[]): void {
    for (const node of nodes) {
      if (node.hash.length !== HASH_SIZE) {
        throw new LedgerError('LEDGER_INVALID_ARGUMENT', `node hash is ${node.hash.length} bytes`);
      }
      const level = this.#reserve(node.level, node.index + 1);
      level.hashes.set(node.hash, node.index * HASH_SIZE);
      level.present[node.index] = 1;
    }
  }

  #reserve(levelIndex: number, count: number): Level {
    let level = this.#levels[levelIndex];
    if (level === undefined) {
      level = { hashes: new Uint8Array(0), present: new Uint8Array(0) };
      this.#levels[levelIndex] = level;
    }
    if (level.present.length < count) {
      let capacity = Math.max(INITIAL_CAPACITY, level.present.length);
      while (capacity < count) capacity *= 2;
      const hashes = new Uint8Array(capacity * HASH_SIZE);
      hashes.set(level.hashes);
      const present = new Uint8Array(capacity);
      present.set(level.present);
      level.hashes = hashes;
      level.present = present;
    }
    return level;
  }
}
