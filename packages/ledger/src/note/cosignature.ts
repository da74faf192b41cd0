/**
 * C2SP tlog-cosignature signed messages: `cosignature/v1` for Ed25519 (type 0x04) and the
 * binary `subtree/v1` structure for ML-DSA-44 (type 0x06, checkpoints only: start = 0).
 */
import { parseCheckpoint } from '../checkpoint/checkpoint.ts';
import { concatBytes, fromUtf8, readUint64, uint64, utf8 } from '../encoding/bytes.ts';

const MAX_TIMESTAMP = 2n ** 63n - 1n;
const SUBTREE_LABEL = utf8('subtree/v1\n\0');

/** Splits `timestamp ‖ signature`; undefined when the length or timestamp is invalid. */
export function splitTimestamp(
  sig: Uint8Array,
  signatureSize: number,
): { timestamp: bigint; signature: Uint8Array } | undefined {
  if (sig.length !== 8 + signatureSize) return undefined;
  const timestamp = readUint64(sig);
  if (timestamp > MAX_TIMESTAMP) return undefined;
  return { timestamp, signature: sig.subarray(8) };
}

/** The timestamp of a type 0x04 or 0x06 cosignature (bytes after the key ID), in POSIX seconds. */
export function cosignatureTimestamp(signature: Uint8Array): number {
  return Number(readUint64(signature));
}

/** `cosignature/v1\ntime <t>\n` followed by the checkpoint note text. */
export function ed25519CosignatureMessage(timestamp: bigint, text: Uint8Array): Uint8Array {
  return concatBytes(utf8(`cosignature/v1\ntime ${timestamp}\n`), text);
}

function lengthPrefixed(value: string): Uint8Array | undefined {
  const bytes = utf8(value);
  if (bytes.length < 1 || bytes.length > 255) return undefined;
  return concatBytes(Uint8Array.of(bytes.length), bytes);
}

/**
 * The `subtree/v1` cosigned_message for a checkpoint (start 0, end = size). Undefined when
 * `text` is not a checkpoint or a name is out of range.
 */
export function mldsa44CosignatureMessage(
  name: string,
  timestamp: bigint,
  text: Uint8Array,
): Uint8Array | undefined {
  let checkpoint: ReturnType<typeof parseCheckpoint>;
  try {
    checkpoint = parseCheckpoint(fromUtf8(text));
  } catch {
    return undefined;
  }
  const cosigner = lengthPrefixed(name);
  const origin = lengthPrefixed(checkpoint.origin);
  if (cosigner === undefined || origin === undefined) return undefined;
  return concatBytes(
    SUBTREE_LABEL,
    cosigner,
    uint64(timestamp),
    origin,
    uint64(0),
    uint64(checkpoint.size),
    checkpoint.root,
  );
}
