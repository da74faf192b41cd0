/**
 * RFC 9162 §2.1.4.2 consistency proof verification, as transparency-dev/merkle
 * `proof/verify.go`, with one stricter policy from our vector set: `size1 == 0` is always
 * rejected (a proof from the empty tree is meaningless; C2SP tlog-witness handles `old 0`
 * itself before calling this).
 */
import { LedgerError } from '../errors.ts';
import { isSize, trailingZeros } from '../merkle/bits.ts';
import type { MerkleHasher } from '../merkle/hasher.ts';
import {
  chainBorderRight,
  chainInner,
  chainInnerRight,
  checkProofHashes,
  checkRoot,
  decompose,
} from './chain.ts';

/**
 * Computes the size2 root implied by a consistency proof from (size1, root1), checking
 * that the proof also reproduces root1. Throws `LEDGER_INVALID_PROOF` otherwise.
 */
export function rootFromConsistencyProof(
  hasher: MerkleHasher,
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
): Uint8Array {
  if (!isSize(size1) || !isSize(size2)) {
    throw new LedgerError(
      'LEDGER_INVALID_PROOF',
      `size1 ${size1} or size2 ${size2} is not a safe non-negative integer`,
    );
  }
  if (size2 < size1)
    throw new LedgerError('LEDGER_INVALID_PROOF', `size2 (${size2}) < size1 (${size1})`);
  if (size1 === 0)
    throw new LedgerError(
      'LEDGER_INVALID_PROOF',
      'consistency proof from the empty tree is meaningless',
    );
  if (size1 === size2) {
    if (proof.length > 0)
      throw new LedgerError('LEDGER_INVALID_PROOF', 'size1 = size2, but the proof is not empty');
    return root1;
  }
  if (proof.length === 0) throw new LedgerError('LEDGER_INVALID_PROOF', 'empty consistency proof');
  checkProofHashes(proof);

  const decomposed = decompose(size1 - 1, size2);
  const shift = trailingZeros(size1);
  const inner = decomposed.inner - shift;
  const { border } = decomposed;
  // The proof starts with the hash of the size-2^shift subtree, unless size1 is that subtree.
  const isPowerOfTwo = size1 === 2 ** shift;
  const seed = isPowerOfTwo ? root1 : proof[0]!;
  const start = isPowerOfTwo ? 0 : 1;
  if (proof.length !== start + inner + border) {
    throw new LedgerError(
      'LEDGER_INVALID_PROOF',
      `wrong proof size ${proof.length}, want ${start + inner + border}`,
    );
  }
  const rest = proof.slice(start);
  const mask = Math.floor((size1 - 1) / 2 ** shift);
  const innerHashes = rest.slice(0, inner);
  const borderHashes = rest.slice(inner);
  const hash1 = chainBorderRight(
    hasher,
    chainInnerRight(hasher, seed, innerHashes, mask),
    borderHashes,
  );
  checkRoot(hash1, root1, 'root1');
  return chainBorderRight(hasher, chainInner(hasher, seed, innerHashes, mask), borderHashes);
}

/**
 * Verifies that the tree of `size2` leaves with `root2` extends the tree of `size1` leaves
 * with `root1`. Returns nothing; throws `LEDGER_INVALID_PROOF` with the precise reason.
 */
export function verifyConsistency(
  hasher: MerkleHasher,
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  checkRoot(rootFromConsistencyProof(hasher, size1, size2, proof, root1), root2, 'root2');
}
