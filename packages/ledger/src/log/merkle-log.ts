/** A convenience wrapper binding a hasher and a store to the stateless log functions. */
import type { MerkleHasher } from '../merkle/hasher.ts';
import { type AppendResult, appendLeaves } from './append.ts';
import { consistencyProof, inclusionProof, treeRoot } from './read.ts';
import type { HashReader } from './types.ts';

/**
 * A Merkle log over a {@link HashReader}. It keeps no size of its own: callers pass the
 * committed size, so a rolled-back transaction leaves nothing stale behind.
 */
export class MerkleLog {
  /** The RFC 9162 hasher used for every computation. */
  readonly hasher: MerkleHasher;
  /** Where complete-subtree hashes are read from. */
  readonly reader: HashReader;

  /** Binds `hasher` and `reader`. */
  constructor(hasher: MerkleHasher, reader: HashReader) {
    this.hasher = hasher;
    this.reader = reader;
  }

  /** See {@link appendLeaves}. */
  append(size: number, leafHashes: readonly Uint8Array[]): Promise<AppendResult> {
    return appendLeaves(this.hasher, this.reader, size, leafHashes);
  }

  /** See {@link treeRoot}. */
  root(size: number): Promise<Uint8Array> {
    return treeRoot(this.hasher, this.reader, size);
  }

  /** See {@link inclusionProof}. */
  inclusionProof(index: number, size: number): Promise<Uint8Array[]> {
    return inclusionProof(this.hasher, this.reader, index, size);
  }

  /** See {@link consistencyProof}. */
  consistencyProof(size1: number, size2: number): Promise<Uint8Array[]> {
    return consistencyProof(this.hasher, this.reader, size1, size2);
  }
}
