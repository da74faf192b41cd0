import {
  appendLeaves,
  consistencyProof,
  decodeBatchLeaf,
  encodeEntryBundle,
  inclusionProof,
  MemoryHashStore,
  parseCanonicalJson,
  parseCheckpoint,
  parseNote,
  parseTilePath,
  type RecordProof,
  readTile,
  TILE_WIDTH,
  toBase64,
  toBase64Url,
  treeRoot,
} from '@palisade/ledger';
import { nodeHasher } from '@palisade/ledger/node';
import { InputError, PalisadeError } from '../errors/index.ts';
import type { MaybePromise } from '../maybe-promise/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import { storedState } from '../records/index.ts';
import type {
  LedgerEntryRow,
  LedgerKeyChange,
  PlatformLogStore,
  SealedTenantCheckpoint,
  TenantReader,
} from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type { PlatformLedgerKeys } from './ledger-keys.ts';

/** Most entries or batches one listing returns. */
export const LEDGER_PAGE_MAX = 1000;
/** Tries at a record snapshot that no concurrent write interleaves. */
const SNAPSHOT_ATTEMPTS = 5;

/** What the tenant checkpoint endpoint answers. */
export interface CheckpointView {
  readonly size: number;
  readonly checkpoint: string;
  readonly platform: PlatformAnchor;
}

/** The tenant checkpoint's place in the platform log and the (cosigned) platform checkpoint. */
export interface PlatformAnchor {
  readonly index: number;
  readonly proof: string[];
  readonly checkpoint: string;
  /** How many distinct witnesses cosigned the platform checkpoint. */
  readonly cosignatures: number;
  readonly witnessed: boolean;
}

/** A key change in a ledger bundle: as stored, with the platform-log proof that follows it. */
export interface BundledKeyChange extends LedgerKeyChange {
  /** Consistency proof (standard base64) from `size` to the next change's size, or the anchor's. */
  readonly proof: string[];
}

/** Seals now when the newest checkpoint of a tenant does not yet cover `size` batches. */
export type EnsureSealed = (tenantId: string) => Promise<void>;

/** The ledger resource of a record's entries. */
function recordResource(collection: string, id: string): string {
  return `collections/${collection}/records/${id}`;
}

function parsedEntry(row: LedgerEntryRow) {
  return { seq: row.seq, batch: row.batch, entry: parseCanonicalJson(row.entry) };
}

/** A bad bound, named as the method's argument (`end`), for its caller to place. */
function badRange(name: string, detail: string): InputError {
  return new InputError('PALISADE_INVALID_REQUEST', `${name}: ${detail}`, [
    { input: name, at: '', message: detail },
  ]);
}

/** The tenant's collection names, in the store's order, read a page at a time. */
async function* collectionNames(reader: TenantReader): AsyncGenerator<string> {
  for (let after: string | undefined; ; ) {
    const page = await reader.listCollections({ after, limit: LEDGER_PAGE_MAX });
    for (const { name } of page) yield name;
    if (page.length < LEDGER_PAGE_MAX) return;
    after = page.at(-1)!.name;
  }
}

/** Which entries a listing shows, and which records and salts an export may carry: those its caller may read. */
export interface ExportReads {
  /** Whether it may list the collection's records; if not, the collection is withheld whole. */
  collection(name: string): boolean;
  /** Whether it may read the record; never for a record of a collection it may not list. */
  record(collection: string, id: string): boolean;
  /** Whether it may read what the entries of the resource commit to (records as `record`). */
  opens(resource: string): MaybePromise<boolean>;
  /** Whether a listing may show the entries of the resource (what they name). */
  shows(resource: string): MaybePromise<boolean>;
}

interface RecordSnapshot {
  readonly at: number;
  readonly records: { resource: string; data: unknown }[];
  /** The collections whose records were left out, in the store's order. */
  readonly withheldCollections: string[];
  /** The records of the other collections that were left out, by resource. */
  readonly withheldRecords: string[];
}

/**
 * The read side of a tenant's ledger: checkpoints anchored in the platform log, entries,
 * inclusion and consistency proofs, C2SP tiles and per-record proofs. Everything is read
 * through the caller's TenantContext; the platform log is shared but only this tenant's
 * leaf and its path are ever returned.
 */
export class TenantLedger {
  readonly #locate: TenantStoreLocator;
  readonly #platformLog: PlatformLogStore;
  readonly #keys: PlatformLedgerKeys;
  readonly #ensureSealed: EnsureSealed;
  readonly #quorum: number;

  constructor(
    locate: TenantStoreLocator,
    platformLog: PlatformLogStore,
    keys: PlatformLedgerKeys,
    ensureSealed: EnsureSealed,
    quorum: number,
  ) {
    this.#locate = locate;
    this.#platformLog = platformLog;
    this.#keys = keys;
    this.#ensureSealed = ensureSealed;
    this.#quorum = quorum;
  }

  async #reader(context: TenantContext): Promise<TenantReader> {
    return (await this.#locate(context)).reader;
  }

  /** The newest sealed checkpoint covering at least `size` batches (sealing first if needed). */
  async #sealed(context: TenantContext, size: number): Promise<SealedTenantCheckpoint | undefined> {
    let sealed = await this.#platformLog.latestTenantCheckpoint(context.tenantId);
    if (size > 0 && (sealed === undefined || sealed.tenantSize < size)) {
      await this.#ensureSealed(context.tenantId);
      sealed = await this.#platformLog.latestTenantCheckpoint(context.tenantId);
    }
    return sealed;
  }

  async #anchor(sealed: SealedTenantCheckpoint): Promise<PlatformAnchor> {
    const platform = await this.#platformLog.latestCheckpoint();
    if (platform === undefined || platform.size <= sealed.index) {
      throw new PalisadeError(
        'PALISADE_UNAVAILABLE',
        'the platform log is being sealed; retry in a second',
      );
    }
    const proof = await inclusionProof(nodeHasher, this.#platformLog, sealed.index, platform.size);
    const signers = platform.note
      .split('\n')
      .filter((line) => line.startsWith('\u2014 '))
      .map((line) => line.split(' ')[1]);
    const cosignatures = new Set(signers.filter((name) => name !== this.#keys.origin)).size;
    return {
      index: sealed.index,
      proof: proof.map(toBase64),
      checkpoint: platform.note,
      cosignatures,
      witnessed: cosignatures >= this.#quorum,
    };
  }

  /** The tenant's newest signed checkpoint and the platform checkpoint that commits it. */
  async checkpoint(context: TenantContext): Promise<CheckpointView | undefined> {
    const { size } = await (await this.#reader(context)).ledgerHead();
    const sealed = await this.#sealed(context, size);
    if (sealed === undefined) return undefined;
    return {
      size: sealed.tenantSize,
      checkpoint: sealed.note,
      platform: await this.#anchor(sealed),
    };
  }

  /**
   * Entries with start <= seq < end, each with its RFC 9162 leaf hash; an entry whose
   * resource `reads` does not show (a record, device, user… its caller may not read) keeps
   * its place, seq, batch and leaf hash but not its text (`entry` null), so the caller still
   * recomputes every batch's entriesRoot and checks the log, without learning what it names.
   */
  async entries(
    context: TenantContext,
    start: number,
    end: number,
    reads: Pick<ExportReads, 'shows'>,
  ) {
    if (end <= start) throw badRange('end', 'must be above start');
    if (end - start > LEDGER_PAGE_MAX)
      throw badRange('end', `at most ${LEDGER_PAGE_MAX} entries per request`);
    const rows = await (await this.#reader(context)).ledgerEntries(start, end);
    const entries = [];
    for (const row of rows) {
      let shown = reads.shows(row.resource);
      if (shown instanceof Promise) shown = await shown;
      const leafHash = toBase64(nodeHasher.leafHash(Buffer.from(row.entry, 'utf8')));
      entries.push(
        shown
          ? { ...parsedEntry(row), leafHash }
          : { seq: row.seq, batch: row.batch, entry: null, leafHash },
      );
    }
    return { entries };
  }

  async batches(context: TenantContext, start: number, end: number) {
    if (end <= start) throw badRange('end', 'must be above start');
    if (end - start > LEDGER_PAGE_MAX)
      throw badRange('end', `at most ${LEDGER_PAGE_MAX} batches per request`);
    const rows = await (await this.#reader(context)).ledgerBatches(start, end);
    return { batches: rows.map((row) => ({ batch: row.batch, leaf: row.leaf })) };
  }

  async inclusion(context: TenantContext, index: number, size: number) {
    const reader = await this.#reader(context);
    const head = await reader.ledgerHead();
    if (size > head.size) throw badRange('size', `the log has ${head.size} batches`);
    if (index >= size) throw badRange('index', 'must be below size');
    const [batch] = await reader.ledgerBatches(index, index + 1);
    const proof = await inclusionProof(nodeHasher, reader, index, size);
    return { index, size, leaf: batch!.leaf, proof: proof.map(toBase64) };
  }

  async consistency(context: TenantContext, from: number, to: number) {
    const reader = await this.#reader(context);
    const head = await reader.ledgerHead();
    if (to > head.size) throw badRange('to', `the log has ${head.size} batches`);
    if (from < 1 || from > to) throw badRange('from', 'must be between 1 and to');
    const proof = await consistencyProof(nodeHasher, reader, from, to);
    return { from, to, proof: proof.map(toBase64) };
  }

  /** A C2SP tlog-tiles tile of the tenant log: hashes, or `entries` bundles of batch leaves. */
  async tile(context: TenantContext, path: string): Promise<Uint8Array> {
    const reader = await this.#reader(context);
    let tile: ReturnType<typeof parseTilePath>;
    try {
      tile = parseTilePath(path);
    } catch (error) {
      throw new PalisadeError('PALISADE_NOT_FOUND', `no tile ${path}: ${(error as Error).message}`);
    }
    const { size } = await reader.ledgerHead();
    const level = tile.level === 'entries' ? 0 : tile.level;
    const available = Math.floor(size / TILE_WIDTH ** level);
    if (tile.index * TILE_WIDTH + tile.width > available)
      throw new PalisadeError('PALISADE_NOT_FOUND', `tile ${path} is beyond the log`);
    if (tile.level !== 'entries') return readTile(reader, tile);
    const rows = await reader.ledgerBatches(
      tile.index * TILE_WIDTH,
      tile.index * TILE_WIDTH + tile.width,
    );
    return encodeEntryBundle(rows.map((row) => Buffer.from(row.leaf, 'utf8')));
  }

  /**
   * Proof that a state of the record is in the ledger, up to the cosigned platform checkpoint:
   * the state one write committed (`written`: its entry and state, as the write answered them),
   * else the record's newest.
   */
  async recordProof(
    context: TenantContext,
    collection: string,
    id: string,
    written?: { readonly seq: number; readonly state: unknown },
  ): Promise<RecordProof & { salt: string | null; state: unknown }> {
    const reader = await this.#reader(context);
    if (written !== undefined) {
      const [row] = await reader.ledgerEntries(written.seq, written.seq + 1);
      if (row?.resource !== recordResource(collection, id))
        throw new PalisadeError(
          'PALISADE_INTERNAL',
          `ledger entry ${written.seq} is not of record ${id} in ${collection}`,
        );
      return this.#proof(context, reader, row, written.state);
    }
    const { record, row } = await this.#recordWithEntry(reader, collection, id);
    if (record === undefined || row === undefined)
      throw new PalisadeError(
        'PALISADE_RECORD_NOT_FOUND',
        `no ledger entry for record ${id} in ${collection}`,
      );
    return this.#proof(context, reader, row, storedState(record.data, record.sealed));
  }

  /** Proof of one entry, whose committed state is `state`. */
  async #proof(
    context: TenantContext,
    reader: TenantReader,
    row: LedgerEntryRow,
    state: unknown,
  ): Promise<RecordProof & { salt: string | null; state: unknown }> {
    const [batchRow] = await reader.ledgerBatches(row.batch, row.batch + 1);
    const batch = decodeBatchLeaf(Buffer.from(batchRow!.leaf, 'utf8'));
    const batchEntries = await reader.ledgerEntries(batch.firstSeq, batch.firstSeq + batch.count);
    const inBatch = new MemoryHashStore();
    const appended = await appendLeaves(
      nodeHasher,
      inBatch,
      0,
      batchEntries.map((e) => nodeHasher.leafHash(Buffer.from(e.entry, 'utf8'))),
    );
    inBatch.writeNodes(appended.nodes);
    const entryProof = await inclusionProof(
      nodeHasher,
      inBatch,
      row.seq - batch.firstSeq,
      batch.count,
    );
    const sealed = await this.#sealed(context, row.batch + 1);
    if (sealed === undefined)
      throw new PalisadeError(
        'PALISADE_UNAVAILABLE',
        'the ledger is being sealed; retry in a second',
      );
    const logProof = await inclusionProof(nodeHasher, reader, row.batch, sealed.tenantSize);
    const anchor = await this.#anchor(sealed);
    return {
      entry: parseCanonicalJson(row.entry) as RecordProof['entry'],
      batch,
      entryProof: entryProof.map(toBase64),
      logProof: logProof.map(toBase64),
      checkpoint: sealed.note,
      platform: { index: anchor.index, proof: anchor.proof, checkpoint: anchor.checkpoint },
      salt: row.salt === null ? null : toBase64Url(row.salt),
      state,
    };
  }

  /**
   * A record and its newest entry as the same write left them: the entry is read before and
   * after the record, and both again when a write came between.
   */
  async #recordWithEntry(reader: TenantReader, collection: string, id: string) {
    const resource = recordResource(collection, id);
    for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
      const row = await reader.latestEntry(resource);
      if (row === undefined) return { record: undefined, row };
      const record = await reader.getRecord(collection, id);
      if (record === undefined || (await reader.latestEntry(resource))?.seq === row.seq)
        return { record, row };
    }
    throw new PalisadeError(
      'PALISADE_UNAVAILABLE',
      'the record is changing too fast for a consistent proof; retry',
    );
  }

  /**
   * Every current record in its committed (stored) form, together with the ledger size it
   * reflects: the head is read before and after, and the read is repeated until no write
   * came between, so the states match the entries below that size.
   */
  async #recordSnapshot(reader: TenantReader, reads: ExportReads): Promise<RecordSnapshot> {
    for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
      const before = (await reader.ledgerHead()).size;
      const records: { resource: string; data: unknown }[] = [];
      const withheldCollections: string[] = [];
      const withheldRecords: string[] = [];
      for await (const collection of collectionNames(reader)) {
        if (!reads.collection(collection)) {
          withheldCollections.push(collection);
          continue;
        }
        let after: string | undefined;
        for (;;) {
          const page = await reader.listRecords(collection, {
            after,
            limit: LEDGER_PAGE_MAX,
            filters: [],
          });
          for (const row of page) {
            const resource = `collections/${collection}/records/${row.id}`;
            if (reads.record(collection, row.id))
              records.push({ resource, data: storedState(row.data, row.sealed) });
            else withheldRecords.push(resource);
          }
          if (page.length < LEDGER_PAGE_MAX) break;
          after = page.at(-1)!.id;
        }
      }
      if ((await reader.ledgerHead()).size === before)
        return { at: before, records, withheldCollections, withheldRecords };
    }
    throw new PalisadeError(
      'PALISADE_UNAVAILABLE',
      'the tenant is writing too fast for a consistent export; retry',
    );
  }

  /**
   * The platform's verifier keys and origin, for anyone to check checkpoints with, and every
   * replacement of a lost signing key (`palisade keys new-ledger-key`), oldest first, as stored.
   */
  async publicKeys(): Promise<{
    origin: string;
    keys: readonly string[];
    changes: readonly LedgerKeyChange[];
  }> {
    const changes = await this.#platformLog.keyChanges();
    return { origin: this.#keys.origin, keys: this.#keys.vkeys, changes };
  }

  /**
   * The key changes up to the platform checkpoint `anchor`, each with the consistency proof
   * from its size to the next one's (the last: to the anchor's), which an auditor holding
   * only an old key needs to follow them.
   */
  async #keyChanges(anchor: string): Promise<BundledKeyChange[]> {
    const { size } = parseCheckpoint(parseNote(anchor).text);
    const changes = (await this.#platformLog.keyChanges()).filter((c) => c.size <= size);
    const bundled: BundledKeyChange[] = [];
    for (const [i, change] of changes.entries()) {
      const to = changes[i + 1]?.size ?? size;
      const proof = await consistencyProof(nodeHasher, this.#platformLog, change.size, to);
      bundled.push({ ...change, proof: proof.map(toBase64) });
    }
    return bundled;
  }

  /**
   * The whole tenant log with its anchors, for offline verification (`palisade ledger
   * verify`); with `reads`, also the current records, in their committed form, and the
   * salts that it allows (without, none: the platform admin reads no tenant's state). The
   * collections it withholds whole are named in `withheldCollections`, the other records it
   * withholds in `withheldRecords`, and the salt of every entry whose state it may not read
   * (a withheld record's, deleted ones too, an RPC's without rpc:read…) is left out: a salt
   * opens a commitment to whoever guesses the state.
   */
  async exportBundle(context: TenantContext, reads: ExportReads | undefined) {
    const reader = await this.#reader(context);
    const snapshot = reads === undefined ? undefined : await this.#recordSnapshot(reader, reads);
    const head = await reader.ledgerHead();
    const sealed = await this.#sealed(context, head.size);
    if (sealed === undefined)
      throw new PalisadeError('PALISADE_UNAVAILABLE', 'the ledger is empty or being sealed');
    const size = sealed.tenantSize;
    const batches: string[] = [];
    for (let start = 0; start < size; start += LEDGER_PAGE_MAX) {
      for (const row of await reader.ledgerBatches(start, Math.min(size, start + LEDGER_PAGE_MAX)))
        batches.push(row.leaf);
    }
    const lastBatch = decodeBatchLeaf(Buffer.from(batches.at(-1)!, 'utf8'));
    const entryCount = lastBatch.firstSeq + lastBatch.count;
    const entries: { entry: string; salt: string | null }[] = [];
    for (let start = 0; start < entryCount; start += LEDGER_PAGE_MAX) {
      for (const row of await reader.ledgerEntries(
        start,
        Math.min(entryCount, start + LEDGER_PAGE_MAX),
      )) {
        let open = row.salt !== null && (reads?.opens(row.resource) ?? false);
        if (open instanceof Promise) open = await open;
        entries.push({ entry: row.entry, salt: open ? toBase64Url(row.salt!) : null });
      }
    }
    const platform = await this.#anchor(sealed);
    return {
      format: 'palisade-ledger-bundle/v1' as const,
      tenant: context.tenantId,
      keys: [...this.#keys.vkeys],
      keyChanges: await this.#keyChanges(platform.checkpoint),
      storedRoot: toBase64(await treeRoot(nodeHasher, reader, size)),
      checkpoint: sealed.note,
      platform,
      batches,
      entries,
      recordsAt: snapshot?.at ?? null,
      records: snapshot?.records ?? null,
      withheldCollections: snapshot?.withheldCollections ?? null,
      withheldRecords: snapshot?.withheldRecords ?? null,
    };
  }
}
