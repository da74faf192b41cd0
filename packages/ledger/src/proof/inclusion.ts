/**
 * RFC 9162 §2.1.3.2 inclusion proof verification, with the exact acceptance rules of
 * transparency-dev/merkle `proof/verify.go`: `index < size`, a 32-byte leaf hash, and a
 * proof of exactly the length implied by (index, size).
 */
import { LedgerError } from '../errors.ts';
import { isSize } from '../merkle/bits.ts';
import { HASH_SIZE, type MerkleHasher } from '../merkle/hasher.ts';
import { chainBorderRight, chainInner, checkProofHashes, checkRoot, decompose } from './chain.ts';

/**
 * Computes the root implied by an inclusion proof for `leafHash` at `index` in a tree of
 * `size` leaves. Throws `LEDGER_INVALID_PROOF` when the inputs cannot form a proof.
 */
export function rootFromInclusionProof(
  hasher: MerkleHasher,
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Uint8Array {
  if (!isSize(index) || !isSize(size)) {
    throw new LedgerError(
      'LEDGER_INVALID_PROOF',
      `index ${index} or size ${size} is not a safe non-negative integer`,
    );
  }
  if (index >= size) {
    throw new LedgerError('LEDGER_INVALID_PROOF', `index is beyond size: ${index} >= ${size}`);
  }
  if (leafHash.length !== HASH_SIZE) {
    throw new LedgerError(
      'LEDGER_INVALID_PROOF',
      `leaf hash is ${leafHash.length} bytes, want ${HASH_SIZE}`,
    );
  }
  const { inner, border } = decompose(index, size);
  if (proof.length !== inner + border) {
    throw new LedgerError(
      'LEDGER_INVALID_PROOF',
      `wrong proof size ${proof.length}, want ${inner + border}`,
    );
  }
  checkProofHashes(proof);
  const hash = chainInner(hasher, leafHash, proof.slice(0, inner), index);
  return chainBorderRight(hasher, hash, proof.slice(inner));
}

/**
 * Verifies that `leafHash` is the leaf at `index` of the tree of `size` leaves with `root`.
 * Returns nothing; throws `LEDGER_INVALID_PROOF` with the precise reason otherwise.
 */
export function verifyInclusion(
  hasher: MerkleHasher,
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  checkRoot(rootFromInclusionProof(hasher, leafHash, index, size, proof), root, 'root');
}
