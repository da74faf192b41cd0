/**
 * Ledger entries: one JSON object per durable write. The entry's leaf hash is
 * `leafHash(utf8(canonicalJson(entry)))`, so server and verifier hash identical bytes.
 */
import { fromBase64Url } from '../encoding/base64.ts';
import { utf8 } from '../encoding/bytes.ts';
import { LedgerError } from '../errors.ts';
import { canonicalJson } from '../json/canonical.ts';
import { HASH_SIZE, type MerkleHasher } from '../merkle/hasher.ts';

/** One ledger entry. Extra fields must be strings. */
export interface LedgerEntry {
  /** Position in the tenant's entry sequence, from 0. */
  readonly seq: number;
  /** RFC 3339 UTC with milliseconds, e.g. `2025-01-31T12:00:00.000Z`. */
  readonly time: string;
  /** Who acted (user, device, service id). */
  readonly actor: string;
  /** What was done, e.g. `record.create`. */
  readonly action: string;
  /** What it was done to, e.g. `collections/orders/records/42`. */
  readonly resource: string;
  /** base64url SHA-256 commitment to the state (see `commitState`), or null. */
  readonly commitment: string | null;
  /** Optional extra string fields. */
  readonly [extra: string]: string | number | null;
}

const RFC3339_MS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$/;
const CORE = new Set(['seq', 'time', 'actor', 'action', 'resource', 'commitment']);

/** True for an RFC 3339 UTC timestamp with exactly millisecond precision that is a real instant. */
export function isUtcMillis(value: unknown): value is string {
  if (typeof value !== 'string' || !RFC3339_MS.test(value)) return false;
  const date = new Date(value);
  return !Number.isNaN(date.getTime()) && date.toISOString() === value;
}

function bad(field: string, reason: string): LedgerError {
  return new LedgerError('LEDGER_BAD_ENTRY', `entry.${field} ${reason}`);
}

/** Checks `value` is a well-formed {@link LedgerEntry}; throws `LEDGER_BAD_ENTRY` naming the field. */
export function validateEntry(value: unknown): LedgerEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad('', 'must be an object');
  const entry = value as Record<string, unknown>;
  if (!Number.isSafeInteger(entry['seq']) || (entry['seq'] as number) < 0) {
    throw bad('seq', 'must be a non-negative safe integer');
  }
  if (!isUtcMillis(entry['time'])) throw bad('time', 'must be RFC 3339 UTC with milliseconds');
  for (const field of ['actor', 'action', 'resource']) {
    if (typeof entry[field] !== 'string' || entry[field] === '')
      throw bad(field, 'must be a non-empty string');
  }
  const commitment = entry['commitment'];
  if (commitment !== null) {
    const bytes = typeof commitment === 'string' ? fromBase64Url(commitment) : undefined;
    if (bytes?.length !== HASH_SIZE)
      throw bad('commitment', 'must be null or base64url of 32 bytes');
  }
  for (const [key, field] of Object.entries(entry)) {
    if (!CORE.has(key) && typeof field !== 'string')
      throw bad(key, 'is an extra field and must be a string');
  }
  return entry as LedgerEntry;
}

/** The canonical bytes of an entry (validated first). */
export function encodeEntry(entry: LedgerEntry): Uint8Array {
  return utf8(canonicalJson(validateEntry(entry)));
}

/** `leafHash(utf8(canonicalJson(entry)))`. */
export function entryHash(hasher: MerkleHasher, entry: LedgerEntry): Uint8Array {
  return hasher.leafHash(encodeEntry(entry));
}
