/**
 * The ledger's error contract: one class, a closed list of stable codes. Codes are never
 * renamed or reused; the README table is checked against {@link LEDGER_ERROR_CODES} by a test.
 */

/** Every code a {@link LedgerError} can carry, in README order. */
export const LEDGER_ERROR_CODES = [
  'LEDGER_INVALID_ARGUMENT',
  'LEDGER_INVALID_PROOF',
  'LEDGER_MISSING_NODE',
  'LEDGER_BAD_JSON',
  'LEDGER_BAD_ENTRY',
  'LEDGER_BAD_BATCH',
  'LEDGER_BAD_COMMITMENT',
  'LEDGER_BAD_NOTE',
  'LEDGER_BAD_KEY',
  'LEDGER_UNKNOWN_KEY',
  'LEDGER_BAD_SIGNATURE',
  'LEDGER_BAD_CHECKPOINT',
  'LEDGER_BAD_TILE',
  'LEDGER_BAD_REQUEST',
  'LEDGER_UNKNOWN_LOG',
  'LEDGER_CONFLICT',
  'LEDGER_FORK',
  'LEDGER_BAD_BUNDLE',
  'LEDGER_TAMPERED',
  'LEDGER_NOT_WITNESSED',
  'LEDGER_TRUST_CHANGED',
  'LEDGER_KEY_CHANGE_UNSIGNED',
  'LEDGER_KEY_CHANGE_ORIGIN',
  'LEDGER_KEY_CHANGE_FORK',
] as const;

/** A stable, documented ledger error code. */
export type LedgerErrorCode = (typeof LEDGER_ERROR_CODES)[number];

/** Extra machine-readable facts attached to some errors. */
export interface LedgerErrorDetails {
  /** The tree size a witness has recorded (set on `LEDGER_CONFLICT` and `LEDGER_FORK`). */
  readonly size?: number;
}

/**
 * The only error type thrown by `@palisade/ledger`. `code` is stable; `message` says
 * precisely what was wrong and is meant for logs, not for matching.
 */
export class LedgerError extends Error {
  /** The stable error code. */
  readonly code: LedgerErrorCode;
  /** Present on witness conflicts: the size the witness already holds. */
  readonly size: number | undefined;

  constructor(code: LedgerErrorCode, message: string, details: LedgerErrorDetails = {}) {
    super(message);
    this.name = 'LedgerError';
    this.code = code;
    this.size = details.size;
  }
}

/** True when `error` is a {@link LedgerError}, optionally with the given code. */
export function isLedgerError(error: unknown, code?: LedgerErrorCode): error is LedgerError {
  return error instanceof LedgerError && (code === undefined || error.code === code);
}
