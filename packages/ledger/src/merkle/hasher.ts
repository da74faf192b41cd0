/**
 * RFC 9162 §2.1.1 hashing. The SHA-256 implementation is injected so the verification path
 * runs anywhere: pass node:crypto's (see `@palisade/ledger/node`), or any synchronous
 * SHA-256 in a browser (e.g. `@noble/hashes`).
 */

/** A synchronous SHA-256: 32-byte digest of `data`. */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/** Size in bytes of every Merkle hash. */
export const HASH_SIZE = 32;

/** The RFC 9162 Merkle tree hasher. Implementations may fuse the prefix for speed. */
export interface MerkleHasher {
  /** The underlying SHA-256. */
  readonly sha256: Sha256;
  /** `SHA-256(0x00 ‖ data)`: the hash of one leaf. */
  leafHash(data: Uint8Array): Uint8Array;
  /** `SHA-256(0x01 ‖ left ‖ right)`: the hash of an interior node. */
  nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array;
  /** `SHA-256("")`: the root of the empty tree. */
  emptyRoot(): Uint8Array;
}

/** Builds a {@link MerkleHasher} from a bare SHA-256 function. */
export function merkleHasher(sha256: Sha256): MerkleHasher {
  const node = new Uint8Array(1 + 2 * HASH_SIZE);
  node[0] = 1;
  return {
    sha256,
    leafHash(data) {
      const buf = new Uint8Array(data.length + 1);
      buf.set(data, 1);
      return sha256(buf);
    },
    nodeHash(left, right) {
      if (left.length === HASH_SIZE && right.length === HASH_SIZE) {
        node.set(left, 1);
        node.set(right, 1 + HASH_SIZE);
        return sha256(node);
      }
      const buf = new Uint8Array(1 + left.length + right.length);
      buf[0] = 1;
      buf.set(left, 1);
      buf.set(right, 1 + left.length);
      return sha256(buf);
    },
    emptyRoot() {
      return sha256(new Uint8Array(0));
    },
  };
}
