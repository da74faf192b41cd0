/** C2SP tlog-checkpoint note text: origin, decimal size, base64 root, extension lines. */
import { fromBase64, toBase64 } from '../encoding/base64.ts';
import { LedgerError } from '../errors.ts';
import { HASH_SIZE } from '../merkle/hasher.ts';

/** A parsed checkpoint body. */
export interface Checkpoint {
  /** The log's identity (first line). */
  readonly origin: string;
  /** Number of leaves. */
  readonly size: number;
  /** RFC 9162 root hash at `size` (32 bytes). */
  readonly root: Uint8Array;
  /** Opaque, non-empty extension lines. */
  readonly extensions: readonly string[];
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

function bad(message: string): LedgerError {
  return new LedgerError('LEDGER_BAD_CHECKPOINT', message);
}

/** Parses a decimal tree size with no leading zeroes, up to 2^53 - 1. */
export function parseDecimalSize(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Parses checkpoint note text (signatures already removed). Throws `LEDGER_BAD_CHECKPOINT`. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw bad('checkpoint text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw bad('checkpoint needs origin, size and root lines');
  const [origin, sizeLine, rootLine, ...extensions] = lines as [
    string,
    string,
    string,
    ...string[],
  ];
  if (origin.length === 0) throw bad('checkpoint origin is empty');
  const size = parseDecimalSize(sizeLine);
  if (size === undefined)
    throw bad(`checkpoint size ${JSON.stringify(sizeLine)} is not a canonical decimal`);
  const root = fromBase64(rootLine);
  if (root === undefined || root.length !== HASH_SIZE)
    throw bad('checkpoint root is not base64 of 32 bytes');
  if (extensions.some((line) => line.length === 0))
    throw bad('checkpoint extension lines must be non-empty');
  return { origin, size, root, extensions };
}

/** Formats a checkpoint as note text, validating it the same way {@link parseCheckpoint} does. */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, root, extensions } = checkpoint;
  if (origin.length === 0 || origin.includes('\n'))
    throw bad('checkpoint origin must be one non-empty line');
  if (!Number.isSafeInteger(size) || size < 0)
    throw bad(`checkpoint size ${size} is not a safe integer`);
  if (root.length !== HASH_SIZE) throw bad('checkpoint root must be 32 bytes');
  if (extensions.some((line) => line.length === 0 || line.includes('\n'))) {
    throw bad('checkpoint extension lines must be single non-empty lines');
  }
  return [origin, String(size), toBase64(root), ...extensions].map((line) => `${line}\n`).join('');
}
