/**
 * Write batches. A batch's entries form their own RFC 9162 tree; the tenant log's leaf for
 * the batch is the canonical JSON of its {@link BatchHeader}.
 */
import { fromBase64 } from '../encoding/base64.ts';
import { fromUtf8, utf8 } from '../encoding/bytes.ts';
import { LedgerError } from '../errors.ts';
import { canonicalJson, parseCanonicalJson } from '../json/canonical.ts';
import { HASH_SIZE, type MerkleHasher } from '../merkle/hasher.ts';
import { rootFromLeafHashes } from '../merkle/tree.ts';
import { entryHash, isUtcMillis, type LedgerEntry } from './entry.ts';

/** The tenant-log leaf describing one write batch. */
export interface BatchHeader {
  /** Format version: 1. */
  readonly v: 1;
  /** The tenant id. */
  readonly tenant: string;
  /** The batch's position in the tenant log (its leaf index), from 0. */
  readonly batch: number;
  /** `seq` of the batch's first entry. */
  readonly firstSeq: number;
  /** Number of entries (at least 1). */
  readonly count: number;
  /** Commit time, RFC 3339 UTC with milliseconds. */
  readonly time: string;
  /** Standard base64 of the batch's entries root. */
  readonly entriesRoot: string;
}

const KEYS = ['batch', 'count', 'entriesRoot', 'firstSeq', 'tenant', 'time', 'v'];

function bad(reason: string): LedgerError {
  return new LedgerError('LEDGER_BAD_BATCH', `batch header ${reason}`);
}

const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** Checks a batch header; throws `LEDGER_BAD_BATCH` naming the field. */
export function validateBatchHeader(value: unknown): BatchHeader {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad('must be an object');
  const h = value as Record<string, unknown>;
  const keys = Object.keys(h).sort();
  if (keys.join() !== KEYS.join()) throw bad(`must have exactly the fields ${KEYS.join(', ')}`);
  if (h['v'] !== 1) throw bad('v must be 1');
  if (typeof h['tenant'] !== 'string' || h['tenant'] === '')
    throw bad('tenant must be a non-empty string');
  if (!isCount(h['batch'])) throw bad('batch must be a non-negative safe integer');
  if (!isCount(h['firstSeq'])) throw bad('firstSeq must be a non-negative safe integer');
  if (!isCount(h['count']) || h['count'] === 0) throw bad('count must be a positive safe integer');
  if (!isUtcMillis(h['time'])) throw bad('time must be RFC 3339 UTC with milliseconds');
  const root = typeof h['entriesRoot'] === 'string' ? fromBase64(h['entriesRoot']) : undefined;
  if (root?.length !== HASH_SIZE) throw bad('entriesRoot must be base64 of 32 bytes');
  return h as unknown as BatchHeader;
}

/** The RFC 9162 root over the batch's entry hashes. */
export function batchRoot(hasher: MerkleHasher, entries: readonly LedgerEntry[]): Uint8Array {
  return rootFromLeafHashes(
    hasher,
    entries.map((entry) => entryHash(hasher, entry)),
  );
}

/** The tenant-log leaf bytes: `utf8(canonicalJson(header))`. */
export function encodeBatchLeaf(header: BatchHeader): Uint8Array {
  return utf8(canonicalJson(validateBatchHeader(header)));
}

/** Decodes and validates a tenant-log leaf; rejects non-canonical bytes (`LEDGER_BAD_BATCH`). */
export function decodeBatchLeaf(bytes: Uint8Array): BatchHeader {
  let value: unknown;
  try {
    value = parseCanonicalJson(fromUtf8(bytes));
  } catch (error) {
    throw bad(`is not canonical JSON (${(error as Error).message})`);
  }
  return validateBatchHeader(value);
}
