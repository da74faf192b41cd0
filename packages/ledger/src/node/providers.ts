/**
 * Node.js providers built on node:crypto. Only this folder imports Node built-ins; the rest
 * of the package stays browser-safe and receives these through its provider interfaces.
 */
import { createPublicKey, hash, verify } from 'node:crypto';
import type { MerkleHasher, Sha256 } from '../merkle/hasher.ts';
import type { VerifyProvider } from '../note/verifier.ts';

/** SHA-256 via node:crypto's one-shot `crypto.hash` (faster than `createHash` per call). */
export const nodeSha256: Sha256 = (data) => hash('sha256', data, 'buffer');

const EMPTY = new Uint8Array(0);

/** Leaf inputs up to this size are hashed through a reused scratch buffer. */
const LEAF_SCRATCH_BYTES = 4096;

/**
 * An RFC 9162 hasher on node:crypto. The 0x00/0x01 prefix is written into reused Buffers
 * (node:crypto hashes a Buffer faster than a plain Uint8Array), so hashing costs one
 * `crypto.hash` call and one output allocation.
 */
export const nodeHasher: MerkleHasher = (() => {
  const node = Buffer.alloc(65);
  node[0] = 1;
  const leaf = Buffer.alloc(LEAF_SCRATCH_BYTES + 1);
  const slow = (prefix: number, ...parts: Uint8Array[]) =>
    hash('sha256', Buffer.concat([Uint8Array.of(prefix), ...parts]), 'buffer');
  return {
    sha256: nodeSha256,
    leafHash(data: Uint8Array): Uint8Array {
      if (data.length > LEAF_SCRATCH_BYTES) return slow(0, data);
      leaf.set(data, 1);
      return hash('sha256', leaf.subarray(0, data.length + 1), 'buffer');
    },
    nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
      if (left.length !== 32 || right.length !== 32) return slow(1, left, right);
      node.set(left, 1);
      node.set(right, 33);
      return hash('sha256', node, 'buffer');
    },
    emptyRoot(): Uint8Array {
      return hash('sha256', EMPTY, 'buffer');
    },
  };
})();

/** Signature verification with Node's native Ed25519 and ML-DSA-44 (OpenSSL 3.5). */
export const nodeVerifyProvider: VerifyProvider = {
  sha256: nodeSha256,
  ed25519(publicKey) {
    const key = createPublicKey({
      key: Buffer.from(publicKey),
      format: 'raw-public',
      asymmetricKeyType: 'ed25519',
    });
    return (message, signature) => verify(null, message, key, signature);
  },
  mldsa44(publicKey) {
    const key = createPublicKey({
      key: Buffer.from(publicKey),
      format: 'raw-public',
      asymmetricKeyType: 'ml-dsa-44',
    });
    return (message, signature) => verify(null, message, key, signature);
  },
};
