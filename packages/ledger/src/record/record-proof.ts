/**
 * Offline verification of one ledger entry, from the entry up to a signed checkpoint:
 * entry → batch root → batch leaf → tenant log root → tenant checkpoint, and optionally
 * tenant checkpoint → platform log root → signed (and witnessed) platform checkpoint.
 */
import { type Checkpoint, parseCheckpoint } from '../checkpoint/checkpoint.ts';
import { fromBase64 } from '../encoding/base64.ts';
import { utf8 } from '../encoding/bytes.ts';
import { type BatchHeader, encodeBatchLeaf, validateBatchHeader } from '../entry/batch.ts';
import { entryHash, type LedgerEntry, validateEntry } from '../entry/entry.ts';
import { LedgerError } from '../errors.ts';
import type { MerkleHasher } from '../merkle/hasher.ts';
import { openNote, parseNote } from '../note/signed-note.ts';
import type { NoteVerifier } from '../note/types.ts';
import { verifyInclusion } from '../proof/inclusion.ts';

/** Everything needed to verify one entry offline. JSON-serializable; hashes are base64. */
export interface RecordProof {
  readonly entry: LedgerEntry;
  /** The header of the batch holding the entry; its `batch` is the leaf index in the tenant log. */
  readonly batch: BatchHeader;
  /** Inclusion of the entry at `seq - firstSeq` in the batch tree of `count` entries. */
  readonly entryProof: readonly string[];
  /** Inclusion of the batch leaf in the tenant log at the checkpoint's size. */
  readonly logProof: readonly string[];
  /** The tenant checkpoint as a signed note. */
  readonly checkpoint: string;
  /** Optional anchoring of the tenant checkpoint in the platform log. */
  readonly platform?: {
    /** Leaf index of the tenant checkpoint text in the platform log. */
    readonly index: number;
    readonly proof: readonly string[];
    /** The platform checkpoint as a signed note. */
    readonly checkpoint: string;
  };
}

/** Trusted keys for {@link verifyRecordProof}. At least one anchor must be checked. */
export interface RecordProofKeys {
  /** Keys that may sign the tenant checkpoint. */
  readonly tenant?: readonly NoteVerifier[];
  /** Keys that must sign the platform checkpoint (required when `platform` is present). */
  readonly platform?: readonly NoteVerifier[];
}

/** What a verified record proof establishes. */
export interface VerifiedRecord {
  readonly entry: LedgerEntry;
  readonly batch: BatchHeader;
  readonly checkpoint: Checkpoint;
  readonly platformCheckpoint: Checkpoint | undefined;
}

const tampered = (message: string) => new LedgerError('LEDGER_TAMPERED', message);

const TENANT_LOG = '/tenant/';

/** The tenant a log origin `<platform origin>/tenant/<tenant id>` names, else undefined. */
function tenantOfOrigin(origin: string): string | undefined {
  const at = origin.lastIndexOf(TENANT_LOG);
  return at < 0 ? undefined : origin.slice(at + TENANT_LOG.length);
}

function hashes(list: readonly string[], what: string): Uint8Array[] {
  return list.map((item, i) => {
    const bytes = fromBase64(item);
    if (bytes === undefined)
      throw new LedgerError('LEDGER_INVALID_PROOF', `${what}[${i}] is not base64`);
    return bytes;
  });
}

/**
 * Verifies a {@link RecordProof}. Throws `LEDGER_INVALID_PROOF`, `LEDGER_BAD_ENTRY`,
 * `LEDGER_BAD_BATCH`, `LEDGER_BAD_CHECKPOINT` or a signature error naming the failed step,
 * and `LEDGER_TAMPERED` when the batch's tenant is not the one whose log the checkpoint is of
 * (or that log not one of the anchoring platform's).
 */
export async function verifyRecordProof(
  hasher: MerkleHasher,
  proof: RecordProof,
  keys: RecordProofKeys,
): Promise<VerifiedRecord> {
  const entry = validateEntry(proof.entry);
  const batch = validateBatchHeader(proof.batch);
  const position = entry.seq - batch.firstSeq;
  if (position < 0 || position >= batch.count) {
    throw new LedgerError(
      'LEDGER_INVALID_PROOF',
      `entry seq ${entry.seq} is not in batch ${batch.batch}`,
    );
  }
  const entriesRoot = fromBase64(batch.entriesRoot)!;
  verifyInclusion(
    hasher,
    entryHash(hasher, entry),
    position,
    batch.count,
    hashes(proof.entryProof, 'entryProof'),
    entriesRoot,
  );

  if (keys.tenant === undefined && proof.platform === undefined) {
    throw new LedgerError(
      'LEDGER_UNKNOWN_KEY',
      'no tenant key and no platform proof: nothing anchors the checkpoint',
    );
  }
  const { text } =
    keys.tenant === undefined
      ? parseNote(proof.checkpoint)
      : await openNote(proof.checkpoint, keys.tenant);
  const checkpoint = parseCheckpoint(text);
  if (tenantOfOrigin(checkpoint.origin) !== batch.tenant)
    throw tampered(
      `batch ${batch.batch} belongs to tenant ${batch.tenant}, but the checkpoint is of ${checkpoint.origin}`,
    );
  const leaf = hasher.leafHash(encodeBatchLeaf(batch));
  verifyInclusion(
    hasher,
    leaf,
    batch.batch,
    checkpoint.size,
    hashes(proof.logProof, 'logProof'),
    checkpoint.root,
  );

  if (proof.platform === undefined)
    return { entry, batch, checkpoint, platformCheckpoint: undefined };
  if (keys.platform === undefined || keys.platform.length === 0) {
    throw new LedgerError('LEDGER_UNKNOWN_KEY', 'a platform proof needs platform keys');
  }
  const platformNote = await openNote(proof.platform.checkpoint, keys.platform);
  for (const key of keys.platform) {
    if (!platformNote.verified.some((sig) => sig.name === key.name && sig.keyId === key.keyId)) {
      throw new LedgerError(
        'LEDGER_UNKNOWN_KEY',
        `the platform checkpoint has no signature from trusted key ${key.name} (type ${key.type})`,
      );
    }
  }
  const platformCheckpoint = parseCheckpoint(platformNote.text);
  if (checkpoint.origin !== `${platformCheckpoint.origin}${TENANT_LOG}${batch.tenant}`)
    throw tampered(
      `the tenant checkpoint is for ${checkpoint.origin}, not a tenant log of ${platformCheckpoint.origin}`,
    );
  verifyInclusion(
    hasher,
    hasher.leafHash(utf8(text)),
    proof.platform.index,
    platformCheckpoint.size,
    hashes(proof.platform.proof, 'platform.proof'),
    platformCheckpoint.root,
  );
  return { entry, batch, checkpoint, platformCheckpoint };
}
