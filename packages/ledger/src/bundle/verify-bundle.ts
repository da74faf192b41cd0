/**
 * Offline verification of an exported tenant ledger. It recomputes every hash from the
 * entries up, so any changed byte, dropped or reordered entry, altered batch, altered stored
 * hash or record changed outside the API is caught, and names the first thing that failed.
 */
import { parseCheckpoint } from '../checkpoint/checkpoint.ts';
import { fromBase64, fromBase64Url, toBase64 } from '../encoding/base64.ts';
import { equalBytes, utf8 } from '../encoding/bytes.ts';
import { decodeBatchLeaf } from '../entry/batch.ts';
import { verifyStateCommitment } from '../entry/commitment.ts';
import { type LedgerEntry, validateEntry } from '../entry/entry.ts';
import { isLedgerError, LedgerError } from '../errors.ts';
import { parseCanonicalJson } from '../json/canonical.ts';
import { isSize } from '../merkle/bits.ts';
import type { MerkleHasher } from '../merkle/hasher.ts';
import { rootFromLeafHashes } from '../merkle/tree.ts';
import { openNote } from '../note/signed-note.ts';
import type { NoteVerifier } from '../note/types.ts';
import { verifyInclusion } from '../proof/inclusion.ts';
import type { BundleProgress, BundleSummary, LedgerBundle, VerifyBundleOptions } from './bundle.ts';
import { checkBundleShape, malformedBundle as malformed } from './bundle-shape.ts';
import { openPlatformCheckpoint, requireWitnesses } from './platform-checkpoint.ts';

const tampered = (message: string) => new LedgerError('LEDGER_TAMPERED', message);

/** How many steps pass between two progress reports. */
const PROGRESS_EVERY = 10_000;

function readEntries(bundle: LedgerBundle, progress: BundleProgress | undefined): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  bundle.entries.forEach(({ entry: text }, position) => {
    let entry: LedgerEntry;
    try {
      entry = validateEntry(parseCanonicalJson(text));
    } catch (error) {
      throw tampered(
        `entry at position ${position} is not a valid canonical entry (${(error as Error).message})`,
      );
    }
    if (entry.seq !== position) {
      throw tampered(
        `entry at position ${position} has seq ${entry.seq}: an entry was dropped, inserted or reordered before it`,
      );
    }
    entries.push(entry);
    if (position % PROGRESS_EVERY === 0) progress?.('entries', position, bundle.entries.length);
  });
  return entries;
}

/** The batch leaf hashes, and after each batch the number of entries it and those before hold. */
function checkBatches(
  hasher: MerkleHasher,
  bundle: LedgerBundle,
  progress: BundleProgress | undefined,
): { leafHashes: Uint8Array[]; ends: number[] } {
  const leafHashes: Uint8Array[] = [];
  const ends: number[] = [];
  let nextSeq = 0;
  bundle.batches.forEach((leaf, index) => {
    let header: ReturnType<typeof decodeBatchLeaf>;
    try {
      header = decodeBatchLeaf(utf8(leaf));
    } catch (error) {
      throw tampered(`batch ${index} is not a valid batch header (${(error as Error).message})`);
    }
    if (header.batch !== index)
      throw tampered(
        `batch at position ${index} says it is batch ${header.batch}: batches were reordered`,
      );
    if (header.tenant !== bundle.tenant)
      throw tampered(`batch ${index} belongs to tenant ${header.tenant}, not ${bundle.tenant}`);
    if (header.firstSeq !== nextSeq)
      throw tampered(`batch ${index} starts at entry ${header.firstSeq}, expected ${nextSeq}`);
    const last = header.firstSeq + header.count - 1;
    const slice = bundle.entries.slice(header.firstSeq, header.firstSeq + header.count);
    if (slice.length !== header.count)
      throw tampered(
        `batch ${index} covers entries ${header.firstSeq}–${last}, but the bundle ends at ${bundle.entries.length - 1}`,
      );
    const root = rootFromLeafHashes(
      hasher,
      slice.map(({ entry }) => hasher.leafHash(utf8(entry))),
    );
    if (toBase64(root) !== header.entriesRoot) {
      throw tampered(
        `batch ${index}: entries ${header.firstSeq}–${last} do not hash to the batch's entries root; one of them was altered`,
      );
    }
    nextSeq += header.count;
    ends.push(nextSeq);
    leafHashes.push(hasher.leafHash(utf8(leaf)));
    if (index % PROGRESS_EVERY === 0) progress?.('batches', index, bundle.batches.length);
  });
  if (nextSeq !== bundle.entries.length) {
    throw tampered(
      `the batches cover ${nextSeq} entries but the bundle holds ${bundle.entries.length}: entry ${nextSeq} is in no batch`,
    );
  }
  return { leafHashes, ends };
}

/** The collection of a record's resource (`collections/<name>/records/<id>`), else undefined. */
function collectionOf(resource: string): string | undefined {
  return /^collections\/([^/]+)\/records\/./.exec(resource)?.[1];
}

/** What a bundle with records leaves out: whole collections, and records of the others. */
interface Withheld {
  readonly collections: ReadonlySet<string>;
  readonly records: ReadonlySet<string>;
}

/** What a bundle with records leaves out, checked to be collection names and record resources. */
function withheldOf(bundle: LedgerBundle): Withheld {
  const names = bundle.withheldCollections ?? [];
  if (!Array.isArray(names) || !names.every((name) => typeof name === 'string'))
    throw malformed('withheldCollections must be an array of collection names');
  const collections = new Set(names);
  const records = bundle.withheldRecords ?? [];
  if (!Array.isArray(records))
    throw malformed('withheldRecords must be an array of record resources');
  for (const resource of records) {
    const collection = typeof resource === 'string' ? collectionOf(resource) : undefined;
    if (collection === undefined)
      throw malformed(
        `withheldRecords: ${JSON.stringify(resource)} is not a record resource (collections/<name>/records/<id>)`,
      );
    if (collections.has(collection))
      throw malformed(`withheld record ${resource} is in a collection the bundle withholds whole`);
  }
  return { collections, records: new Set(records) };
}

function checkRecords(
  hasher: MerkleHasher,
  records: NonNullable<LedgerBundle['records']>,
  withheld: Withheld,
  stored: LedgerBundle['entries'],
  entries: readonly LedgerEntry[],
  progress: BundleProgress | undefined,
): void {
  const newest = new Map<string, number>();
  for (const [seq, entry] of entries.entries()) newest.set(entry.resource, seq);
  const present = new Set<string>();
  records.forEach(({ resource, data }, i) => {
    if (withheld.collections.has(collectionOf(resource) ?? ''))
      throw malformed(`record ${resource} is in a collection the bundle says it withholds`);
    if (withheld.records.has(resource))
      throw malformed(`record ${resource} is one the bundle says it withholds`);
    present.add(resource);
    const seq = newest.get(resource);
    if (seq === undefined)
      throw tampered(`record ${resource} has no ledger entry: it was written outside the API`);
    const entry = entries[seq]!;
    const salt = stored[seq]!.salt;
    if (entry.commitment === null || salt === null) {
      throw tampered(
        `record ${resource} exists, but its newest ledger entry (seq ${seq}, ${entry.action}) removed it`,
      );
    }
    try {
      verifyStateCommitment(
        hasher.sha256,
        entry.commitment,
        fromBase64Url(salt) ?? new Uint8Array(),
        data,
      );
    } catch (error) {
      if (!isLedgerError(error)) throw error;
      throw tampered(
        `record ${resource} does not match its ledger commitment (entry seq ${seq}): it was changed outside the API`,
      );
    }
    if (i % PROGRESS_EVERY === 0) progress?.('records', i, records.length);
  });
  for (const [resource, seq] of newest) {
    const entry = entries[seq]!;
    const collection = collectionOf(resource);
    if (collection === undefined || withheld.collections.has(collection)) continue;
    if (withheld.records.has(resource)) continue;
    if (entry.commitment !== null && !present.has(resource)) {
      throw tampered(
        `record ${resource} is in the ledger (entry seq ${seq}) but missing from the store`,
      );
    }
  }
  // Only a record the store holds can be withheld: so a verifier that does not know
  // withheldRecords finds each one missing from the store, and fails rather than passes.
  for (const resource of withheld.records) {
    const seq = newest.get(resource);
    if (seq === undefined || entries[seq]!.commitment === null)
      throw malformed(`withheld record ${resource} is not a record of the ledger at recordsAt`);
  }
}

/**
 * Verifies a bundle against the keys you trust (not the ones in the bundle): the platform's,
 * named after its origin, and any witnesses'. Throws `LEDGER_TAMPERED` naming the first
 * failing entry, batch, checkpoint or record, `LEDGER_BAD_BUNDLE` for a malformed bundle,
 * `LEDGER_NOT_WITNESSED` when fewer than `options.witnessQuorum` witnesses cosigned the
 * platform checkpoint, or a signature error.
 */
export async function verifyBundle(
  hasher: MerkleHasher,
  bundle: LedgerBundle,
  trusted: readonly NoteVerifier[],
  options: VerifyBundleOptions = {},
): Promise<BundleSummary> {
  const { progress } = options;
  if (options.witnessQuorum !== undefined && !isSize(options.witnessQuorum))
    throw new LedgerError(
      'LEDGER_INVALID_ARGUMENT',
      `witnessQuorum ${options.witnessQuorum} is not a count of witnesses`,
    );
  checkBundleShape(bundle);
  const withheld = bundle.records === null ? null : withheldOf(bundle);
  const recordsAt = bundle.records === null ? 0 : bundle.recordsAt;
  if (recordsAt === null || !Number.isSafeInteger(recordsAt) || recordsAt < 0)
    throw malformed('recordsAt must be a batch count when the bundle holds records');
  if (recordsAt > bundle.batches.length)
    throw malformed(
      `recordsAt ${recordsAt} is beyond the bundle's ${bundle.batches.length} batches`,
    );
  const opened = await openPlatformCheckpoint(bundle.platform.checkpoint, trusted);
  requireWitnesses(opened, options.witnessQuorum ?? 0);
  const platform = opened.checkpoint;
  const tenantNote = await openNote(bundle.checkpoint, trusted);
  const checkpoint = parseCheckpoint(tenantNote.text);
  if (checkpoint.origin !== `${platform.origin}/tenant/${bundle.tenant}`) {
    throw tampered(
      `the tenant checkpoint is for ${checkpoint.origin}, not tenant ${bundle.tenant} of ${platform.origin}`,
    );
  }
  if (checkpoint.size !== bundle.batches.length) {
    throw tampered(
      `the signed checkpoint covers ${checkpoint.size} batches but the bundle holds ${bundle.batches.length}`,
    );
  }
  const entries = readEntries(bundle, progress);
  const { leafHashes, ends } = checkBatches(hasher, bundle, progress);
  if (!equalBytes(rootFromLeafHashes(hasher, leafHashes), checkpoint.root)) {
    throw tampered(
      'the batches do not hash to the signed tenant checkpoint root: a batch was altered, dropped or reordered',
    );
  }
  const stored = fromBase64(bundle.storedRoot);
  if (stored === undefined || !equalBytes(stored, checkpoint.root)) {
    throw tampered(
      "the server's stored subtree hashes do not give the signed root: the stored ledger hashes were altered",
    );
  }
  const proof = bundle.platform.proof.map((p) => fromBase64(p) ?? new Uint8Array());
  try {
    verifyInclusion(
      hasher,
      hasher.leafHash(utf8(tenantNote.text)),
      bundle.platform.index,
      platform.size,
      proof,
      platform.root,
    );
  } catch {
    throw tampered(
      `the tenant checkpoint is not at index ${bundle.platform.index} of the signed platform log`,
    );
  }
  if (bundle.records !== null && withheld !== null) {
    // The records were read when the log held recordsAt batches: later entries are newer.
    const known = recordsAt === 0 ? 0 : ends[recordsAt - 1]!;
    const upTo = entries.slice(0, known);
    checkRecords(hasher, bundle.records, withheld, bundle.entries, upTo, progress);
  }
  return {
    tenant: bundle.tenant,
    size: checkpoint.size,
    root: toBase64(checkpoint.root),
    entries: entries.length,
    records: bundle.records === null ? null : bundle.records.length,
    withheldCollections: withheld === null ? null : [...withheld.collections],
    withheldRecords: withheld === null ? null : [...withheld.records],
    platformOrigin: platform.origin,
    platformSize: platform.size,
    platformSigners: opened.note.verified.map((s) => s.name),
    witnesses: opened.witnesses,
  };
}
