/** Hash chaining shared by inclusion and consistency verification (RFC 9162 §2.1.3–2.1.4). */
import { equalBytes } from '../encoding/bytes.ts';
import { LedgerError } from '../errors.ts';
import { bitAt, bitLength, onesCount, shiftRight, xor } from '../merkle/bits.ts';
import { HASH_SIZE, type MerkleHasher } from '../merkle/hasher.ts';

/** Splits an inclusion proof for (index, size) into its inner and border lengths. */
export function decompose(index: number, size: number): { inner: number; border: number } {
  const inner = bitLength(xor(index, size - 1));
  return { inner, border: onesCount(shiftRight(index, inner)) };
}

/** Hashes `seed` up the path at `index`, taking each proof hash as a sibling. */
export function chainInner(
  hasher: MerkleHasher,
  seed: Uint8Array,
  proof: readonly Uint8Array[],
  index: number,
): Uint8Array {
  let hash = seed;
  for (let i = 0; i < proof.length; i++) {
    const sibling = proof[i]!;
    hash = bitAt(index, i) === 0 ? hasher.nodeHash(hash, sibling) : hasher.nodeHash(sibling, hash);
  }
  return hash;
}

/** Like {@link chainInner} but only uses left siblings: the earlier version of the subtree. */
export function chainInnerRight(
  hasher: MerkleHasher,
  seed: Uint8Array,
  proof: readonly Uint8Array[],
  index: number,
): Uint8Array {
  let hash = seed;
  for (let i = 0; i < proof.length; i++) {
    if (bitAt(index, i) === 1) hash = hasher.nodeHash(proof[i]!, hash);
  }
  return hash;
}

/** Chains left-side border hashes onto `seed`. */
export function chainBorderRight(
  hasher: MerkleHasher,
  seed: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array {
  let hash = seed;
  for (const sibling of proof) hash = hasher.nodeHash(sibling, hash);
  return hash;
}

/** Throws `LEDGER_INVALID_PROOF` unless every proof element is one 32-byte hash. */
export function checkProofHashes(proof: readonly Uint8Array[]): void {
  for (let i = 0; i < proof.length; i++) {
    if (proof[i]!.length !== HASH_SIZE) {
      throw new LedgerError(
        'LEDGER_INVALID_PROOF',
        `proof[${i}] is ${proof[i]!.length} bytes, want ${HASH_SIZE}`,
      );
    }
  }
}

/** Throws `LEDGER_INVALID_PROOF` unless `calculated` equals `expected`. */
export function checkRoot(calculated: Uint8Array, expected: Uint8Array, what: string): void {
  if (!equalBytes(calculated, expected)) {
    throw new LedgerError(
      'LEDGER_INVALID_PROOF',
      `calculated ${what} does not match the expected ${what}`,
    );
  }
}
