/**
 * The C2SP tlog-witness `add-checkpoint` decision, pure: verify, check against the recorded
 * state, cosign. The caller persists the returned record atomically (compare-and-swap on
 * the previous record) before answering, as the spec requires.
 *
 * HTTP mapping: LEDGER_UNKNOWN_LOG → 404, LEDGER_BAD_SIGNATURE / LEDGER_UNKNOWN_KEY → 403,
 * LEDGER_BAD_REQUEST / LEDGER_BAD_NOTE / LEDGER_BAD_CHECKPOINT → 400, LEDGER_CONFLICT and
 * LEDGER_FORK → 409 (body: `error.size` + "\n", `text/x.tlog.size`), LEDGER_INVALID_PROOF → 422.
 */
import { type Checkpoint, parseCheckpoint } from '../checkpoint/checkpoint.ts';
import { equalBytes } from '../encoding/bytes.ts';
import { LedgerError } from '../errors.ts';
import type { MerkleHasher } from '../merkle/hasher.ts';
import { openNote, parseNote, signatureLines } from '../note/signed-note.ts';
import type { NoteSigner, NoteVerifier } from '../note/types.ts';
import { verifyConsistency } from '../proof/consistency.ts';
import { type AddCheckpointRequest, parseAddCheckpointRequest } from './add-checkpoint-request.ts';

/** A log the witness follows: its origin and the keys that must all sign its checkpoints. */
export interface WitnessLog {
  readonly origin: string;
  readonly verifiers: readonly NoteVerifier[];
}

/** The latest checkpoint the witness cosigned for one origin. */
export interface WitnessRecord {
  readonly size: number;
  readonly root: Uint8Array;
}

/** Configuration and clock for {@link witnessAddCheckpoint}. */
export interface WitnessOptions {
  readonly hasher: MerkleHasher;
  readonly logs: readonly WitnessLog[];
  /** The witness's cosigners (e.g. Ed25519 0x04 and ML-DSA-44 0x06). */
  readonly witnessSigners: readonly NoteSigner[];
  /** Current time in milliseconds since the epoch. */
  readonly now: () => number;
}

/** The outcome of a successful add-checkpoint. */
export interface WitnessResult {
  readonly origin: string;
  readonly checkpoint: Checkpoint;
  /** The record before this request (undefined if none): compare-and-swap against it. */
  readonly previous: WitnessRecord | undefined;
  /** The record to persist. */
  readonly record: WitnessRecord;
  /** The new state (a copy of `state` with `record` stored). */
  readonly state: ReadonlyMap<string, WitnessRecord>;
  /** The 200 response body: one cosignature line per witness signer. */
  readonly cosignatures: string;
}

/** Applies an add-checkpoint request (body text or parsed) to the witness state. */
export async function witnessAddCheckpoint(
  state: ReadonlyMap<string, WitnessRecord>,
  request: string | AddCheckpointRequest,
  options: WitnessOptions,
): Promise<WitnessResult> {
  const {
    oldSize,
    proof,
    checkpoint: note,
  } = typeof request === 'string' ? parseAddCheckpointRequest(request) : request;
  const { text } = parseNote(note);
  const checkpoint = parseCheckpoint(text);
  const log = options.logs.find((l) => l.origin === checkpoint.origin);
  if (log === undefined)
    throw new LedgerError('LEDGER_UNKNOWN_LOG', `unknown log origin ${checkpoint.origin}`);
  const { verified } = await openNote(note, log.verifiers);
  // A hybrid-signed log (Ed25519 + ML-DSA-44) is only as strong as the signatures required.
  for (const key of log.verifiers) {
    if (!verified.some((sig) => sig.name === key.name && sig.keyId === key.keyId)) {
      throw new LedgerError(
        'LEDGER_UNKNOWN_KEY',
        `the checkpoint has no signature from trusted key ${key.name} (type ${key.type})`,
      );
    }
  }
  if (oldSize > checkpoint.size) {
    throw new LedgerError(
      'LEDGER_BAD_REQUEST',
      `old size ${oldSize} is above the checkpoint size ${checkpoint.size}`,
    );
  }
  const previous = state.get(checkpoint.origin);
  const known = previous?.size ?? 0;
  if (oldSize !== known) {
    throw new LedgerError(
      'LEDGER_CONFLICT',
      `old size ${oldSize} does not match the cosigned size ${known}`,
      {
        size: known,
      },
    );
  }
  checkExtends(options.hasher, previous, oldSize, proof, checkpoint);
  const timestamp = Math.floor(options.now() / 1000);
  const cosignatures = await signatureLines(text, options.witnessSigners, { timestamp });
  const record = { size: checkpoint.size, root: checkpoint.root };
  const next = new Map(state);
  next.set(checkpoint.origin, record);
  return { origin: checkpoint.origin, checkpoint, previous, record, state: next, cosignatures };
}

function checkExtends(
  hasher: MerkleHasher,
  previous: WitnessRecord | undefined,
  oldSize: number,
  proof: readonly Uint8Array[],
  checkpoint: Checkpoint,
): void {
  if (oldSize === checkpoint.size || oldSize === 0) {
    if (proof.length > 0)
      throw new LedgerError('LEDGER_INVALID_PROOF', 'the consistency proof must be empty');
    if (
      oldSize === checkpoint.size &&
      previous !== undefined &&
      !equalBytes(previous.root, checkpoint.root)
    ) {
      throw new LedgerError('LEDGER_FORK', `a different root at the cosigned size ${oldSize}`, {
        size: oldSize,
      });
    }
    return;
  }
  verifyConsistency(hasher, oldSize, checkpoint.size, proof, previous!.root, checkpoint.root);
}
