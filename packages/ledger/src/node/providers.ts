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

/** An RFC 9162 hasher on node:crypto, reusing one scratch buffer for interior nodes. */
export const nodeHasher: MerkleHasher = (() => {
  const node = new Uint8Array(65);
  node[0] = 1;
  return {
    sha256: nodeSha256,
    leafHash(data: Uint8Array): Uint8Array {
      const buf = new Uint8Array(data.length + 1);
      buf.set(data, 1);
      return hash('sha256', buf, 'buffer');
    },
    nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
      if (left.length !== 32 || right.length !== 32) {
        const buf = new Uint8Array(1 + left.length + right.length);
        buf[0] = 1;
        buf.set(left, 1);
        buf.set(right, 1 + left.length);
        return hash('sha256', buf, 'buffer');
      }
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
