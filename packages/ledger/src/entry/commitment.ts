/**
 * Salted state commitments. The ledger stores only `base64url(SHA-256(salt ‖ canonical
 * JSON))`: erasing the salt (crypto-shredding) leaves nothing to brute-force from.
 */
import { fromBase64Url, toBase64Url } from '../encoding/base64.ts';
import { concatBytes, equalBytes, utf8 } from '../encoding/bytes.ts';
import { LedgerError } from '../errors.ts';
import { canonicalJson } from '../json/canonical.ts';
import type { Sha256 } from '../merkle/hasher.ts';

/** Shortest salt accepted, in bytes. */
export const MIN_SALT_BYTES = 16;

/** `base64url(SHA-256(salt ‖ utf8(canonicalJson(state))))`. */
export function commitState(sha256: Sha256, salt: Uint8Array, state: unknown): string {
  if (salt.length < MIN_SALT_BYTES) {
    throw new LedgerError(
      'LEDGER_INVALID_ARGUMENT',
      `salt must be at least ${MIN_SALT_BYTES} bytes`,
    );
  }
  return toBase64Url(sha256(concatBytes(salt, utf8(canonicalJson(state)))));
}

/** Checks `commitment` opens to (salt, state); throws `LEDGER_BAD_COMMITMENT` otherwise. */
export function verifyStateCommitment(
  sha256: Sha256,
  commitment: string,
  salt: Uint8Array,
  state: unknown,
): void {
  const want = fromBase64Url(commitment);
  const got = fromBase64Url(commitState(sha256, salt, state))!;
  if (want === undefined || !equalBytes(want, got)) {
    throw new LedgerError('LEDGER_BAD_COMMITMENT', 'commitment does not match the salt and state');
  }
}
