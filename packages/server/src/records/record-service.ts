import type { GroupCommitter, Recorded } from '../commit/index.ts';
import { InputError, PalisadeError } from '../errors/index.ts';
import { isUuid, uuid7 } from '../ids/index.ts';
import type { MaybePromise } from '../maybe-promise/index.ts';
import type {
  CollectionRow,
  ConditionalWrite,
  FieldFilter,
  RecordRow,
  TenantWriteTx,
} from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type { TenantStoreLocator } from './collection-service.ts';
import { applyMergePatch } from './merge-patch.ts';
import { type ListingReads, readablePage } from './readable-page.ts';
import { decodeCursor, encodeCursor } from './record-cursor.ts';
import { type RecordEncryption, redactEncrypted, storedState } from './record-encryption.ts';
import type { SchemaRegistry } from './schema-registry.ts';

/** `If-Match` reduced to what the store needs: any version (`*`), one of some versions, or none. */
export type Precondition =
  | { readonly kind: 'none' }
  | { readonly kind: 'any' }
  | { readonly kind: 'versions'; readonly versions: readonly number[] };

/**
 * A record as a write left it, and the ledger entry that write made with the state it commits
 * (stored form): its proof is of that entry, whatever later writes make of the record.
 */
export interface WrittenRecord extends RecordRow {
  /** Undefined when the committer keeps no ledger. */
  readonly written: { readonly seq: number; readonly state: unknown } | undefined;
}

/** A write's answer with the ledger entry of its one event. */
function written(
  { value, entries }: Recorded<{ row: RecordRow; state: unknown }>,
  data: Record<string, unknown>,
): WrittenRecord {
  const seq = entries[0];
  return {
    ...value.row,
    data,
    sealed: undefined,
    written: seq === undefined ? undefined : { seq, state: value.state },
  };
}

export interface RecordPage {
  readonly items: RecordRow[];
  readonly nextCursor: string | null;
}

/** Raw `filter[field]=value` pairs from a query string, typed by the collection schema. */
export type RawFilters = ReadonlyMap<string, string>;

function recordPath(collection: string, id: string): string {
  return `collections/${collection}/records/${id}`;
}

function checkId(id: string): void {
  if (!isUuid(id))
    throw new PalisadeError('PALISADE_INVALID_ID', `record id ${JSON.stringify(id)} is not a UUID`);
}

function admits(precondition: Precondition, version: number): boolean {
  return precondition.kind !== 'versions' || precondition.versions.includes(version);
}

function refused(
  result: ConditionalWrite<RecordRow>,
  collection: string,
  id: string,
): PalisadeError {
  return result.ok || result.reason === 'not-found'
    ? new PalisadeError('PALISADE_RECORD_NOT_FOUND', `no record ${id} in ${collection}`)
    : new PalisadeError(
        'PALISADE_PRECONDITION_FAILED',
        `record ${id} has changed; read it again for its current ETag`,
      );
}

/**
 * The version the store must find to write. One listed version goes to the store's own
 * check; for another number of them, the record is read in the same transaction and its
 * version, when listed, becomes the one the store checks.
 */
async function expectedVersion(
  tx: TenantWriteTx,
  collection: string,
  id: string,
  precondition: Precondition,
): Promise<number | undefined> {
  if (precondition.kind !== 'versions') return undefined;
  if (precondition.versions.length === 1) return precondition.versions[0];
  const current = await tx.getRecord(collection, id);
  if (current === undefined) throw refused({ ok: false, reason: 'not-found' }, collection, id);
  if (!admits(precondition, current.version))
    throw refused({ ok: false, reason: 'version-mismatch' }, collection, id);
  return current.version;
}

/** Creating, reading, changing, deleting and listing the records of a tenant's collections. */
export class RecordService {
  readonly #locate: TenantStoreLocator;
  readonly #committer: GroupCommitter;
  readonly #schemas: SchemaRegistry;
  readonly #crypto: RecordEncryption | undefined;
  readonly #maxRecordBytes: number;

  /**
   * `maxRecordBytes`: the most bytes of JSON a stored record may be (the `bodyLimit`), so
   * that one a merge patch grew can still be read, changed and PUT back whole.
   */
  constructor(
    locate: TenantStoreLocator,
    committer: GroupCommitter,
    schemas: SchemaRegistry,
    maxRecordBytes: number,
    encryption?: RecordEncryption,
  ) {
    this.#maxRecordBytes = maxRecordBytes;
    this.#locate = locate;
    this.#committer = committer;
    this.#schemas = schemas;
    this.#crypto = encryption;
  }

  /** Makes sure the tenant's keys exist before a write needs them inside its transaction. */
  async #ready(context: TenantContext): Promise<void> {
    await this.#crypto?.ready(context);
  }

  async #seal(
    tx: TenantWriteTx,
    context: TenantContext,
    collection: CollectionRow,
    id: string,
    data: Record<string, unknown>,
  ): Promise<Pick<RecordRow, 'data' | 'sealed'>> {
    if (this.#crypto === undefined || collection.encrypted.length === 0)
      return { data, sealed: undefined };
    return this.#crypto.seal(context, collection, id, data, tx);
  }

  #open(context: TenantContext, rows: RecordRow[]): MaybePromise<RecordRow[]> {
    if (this.#crypto === undefined || rows.every((row) => row.sealed === undefined)) return rows;
    return this.#crypto.open(context, rows);
  }

  async #collectionIn(tx: TenantWriteTx, name: string): Promise<CollectionRow> {
    const collection = await tx.collectionForWrite(name);
    if (collection === undefined)
      throw new PalisadeError(
        'PALISADE_COLLECTION_NOT_FOUND',
        `no collection ${JSON.stringify(name)}`,
      );
    return collection;
  }

  #validate(context: TenantContext, collection: CollectionRow, data: unknown): void {
    const bytes = Buffer.byteLength(JSON.stringify(data));
    if (bytes > this.#maxRecordBytes)
      throw new PalisadeError(
        'PALISADE_RECORD_TOO_LARGE',
        `the record would be ${bytes} bytes of JSON, more than the ${this.#maxRecordBytes} a request body may be (bodyLimit): a client could not send it back with PUT`,
      );
    try {
      this.#schemas.validate(
        { tenantId: context.tenantId, collection: collection.name, version: collection.version },
        collection.schema,
        data,
      );
    } catch (error) {
      throw redactEncrypted(error, collection.encrypted);
    }
  }

  async create(
    context: TenantContext,
    collectionName: string,
    data: Record<string, unknown>,
  ): Promise<WrittenRecord> {
    const store = await this.#locate(context);
    await this.#ready(context);
    const done = await this.#committer.submitRecorded(store, async (tx, record) => {
      const collection = await this.#collectionIn(tx, collectionName);
      this.#validate(context, collection, data);
      const now = new Date().toISOString();
      const id = uuid7();
      const stored = await this.#seal(tx, context, collection, id, data);
      const row: RecordRow = {
        collection: collectionName,
        id,
        ...stored,
        version: 1,
        createdAt: now,
        updatedAt: now,
      };
      await tx.insertRecord(row);
      const state = storedState(stored.data, stored.sealed);
      record({
        actor: context.actor.id,
        action: 'record.create',
        resource: recordPath(collectionName, row.id),
        state,
      });
      return { row, state };
    });
    return written(done, data);
  }

  async get(context: TenantContext, collectionName: string, id: string): Promise<RecordRow> {
    checkId(id);
    const reader = (await this.#locate(context)).reader;
    const row = await reader.getRecord(collectionName, id);
    if (row !== undefined) return (await this.#open(context, [row]))[0]!;
    if ((await reader.getCollection(collectionName)) === undefined) {
      throw new PalisadeError(
        'PALISADE_COLLECTION_NOT_FOUND',
        `no collection ${JSON.stringify(collectionName)}`,
      );
    }
    throw new PalisadeError('PALISADE_RECORD_NOT_FOUND', `no record ${id} in ${collectionName}`);
  }

  /** Replaces the record's data (PUT) or merges an RFC 7396 patch into it (PATCH). */
  async update(
    context: TenantContext,
    collectionName: string,
    id: string,
    change:
      | { readonly replace: Record<string, unknown> }
      | { readonly mergePatch: Record<string, unknown> },
    precondition: Precondition,
  ): Promise<WrittenRecord> {
    checkId(id);
    const store = await this.#locate(context);
    await this.#ready(context);
    const done = await this.#committer.submitRecorded(store, async (tx, record) => {
      const collection = await this.#collectionIn(tx, collectionName);
      let data: unknown;
      let expected: number | undefined;
      if ('replace' in change) {
        expected = await expectedVersion(tx, collectionName, id, precondition);
        data = change.replace;
      } else {
        const [current] = await this.#open(
          context,
          [await tx.getRecord(collectionName, id)].filter((r) => r !== undefined),
        );
        if (current === undefined)
          throw new PalisadeError(
            'PALISADE_RECORD_NOT_FOUND',
            `no record ${id} in ${collectionName}`,
          );
        if (!admits(precondition, current.version))
          throw refused({ ok: false, reason: 'version-mismatch' }, collectionName, id);
        expected = current.version;
        data = applyMergePatch(current.data, change.mergePatch);
      }
      this.#validate(context, collection, data);
      const stored = await this.#seal(tx, context, collection, id, data as Record<string, unknown>);
      const result = await tx.updateRecord(
        collectionName,
        id,
        stored.data,
        expected,
        new Date().toISOString(),
        stored.sealed,
      );
      if (!result.ok) throw refused(result, collectionName, id);
      const state = storedState(result.row.data, result.row.sealed);
      record({
        actor: context.actor.id,
        action: 'record.update',
        resource: recordPath(collectionName, id),
        state,
      });
      return { row: result.row, state, data: data as Record<string, unknown> };
    });
    return written(done, done.value.data);
  }

  /**
   * Deletes the record. `readable`: whether the caller may read it. One that may not is told
   * nothing of it: a record that is not there counts as deleted already, and a precondition,
   * whose outcome would show the record's version, is refused (the caller must check
   * records:read before asking with one).
   */
  async delete(
    context: TenantContext,
    collectionName: string,
    id: string,
    precondition: Precondition,
    readable: boolean,
  ): Promise<void> {
    checkId(id);
    if (!readable && precondition.kind !== 'none')
      throw new PalisadeError(
        'PALISADE_INTERNAL',
        'a conditional delete by a caller that may not read the record',
      );
    const store = await this.#locate(context);
    await this.#committer.submit(store, async (tx, record) => {
      await this.#collectionIn(tx, collectionName);
      const result = await tx.deleteRecord(
        collectionName,
        id,
        await expectedVersion(tx, collectionName, id, precondition),
      );
      if (!result.ok && !readable) return;
      if (!result.ok) throw refused(result, collectionName, id);
      record({
        actor: context.actor.id,
        action: 'record.delete',
        resource: recordPath(collectionName, id),
        state: null,
      });
    });
  }

  /** A page of the records that match the filters and that the caller may read (readablePage). */
  async list(
    context: TenantContext,
    collectionName: string,
    query: {
      readonly limit: number;
      readonly cursor: string | undefined;
      readonly filters: RawFilters;
    },
    reads: ListingReads,
  ): Promise<RecordPage> {
    if (query.filters.size > RECORD_FILTERS_MAX)
      throw new PalisadeError(
        'PALISADE_INVALID_REQUEST',
        `a listing takes at most ${RECORD_FILTERS_MAX} filters, got ${query.filters.size}`,
      );
    const after = decodeCursor(query.cursor);
    const reader = (await this.#locate(context)).reader;
    const collection = await reader.getCollection(collectionName);
    if (collection === undefined)
      throw new PalisadeError(
        'PALISADE_COLLECTION_NOT_FOUND',
        `no collection ${JSON.stringify(collectionName)}`,
      );
    const typed = [...query.filters].map(([field, raw]) => typedFilter(collection, field, raw));
    const filters =
      this.#crypto === undefined
        ? typed
        : await this.#crypto.blindFilters(context, collection, typed);
    const { items, more } = await readablePage(
      reader,
      collectionName,
      { after, limit: query.limit, filters },
      reads,
    );
    const last = items.at(-1);
    return {
      items: await this.#open(context, items),
      nextCursor: more && last !== undefined ? encodeCursor(last.id) : null,
    };
  }
}

/**
 * Most equality filters of one listing: each is a term of the query, and SQLite refuses a
 * statement past 1,000 terms deep where PostgreSQL would run it.
 */
const RECORD_FILTERS_MAX = 32;

/** A number as JSON writes it (RFC 8259 §6); Number() also takes hex, blanks and `4.`. */
const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** Reads a query-string value as the JSON type the schema declares for that field. */
function typedFilter(collection: CollectionRow, field: string, raw: string): FieldFilter {
  const properties = (collection.schema.properties ?? {}) as Record<string, { type?: unknown }>;
  const declared = properties[field]?.type;
  const fail = (expected: string): never => {
    throw new InputError('PALISADE_INVALID_REQUEST', `filter on ${field} must be ${expected}`, [
      { input: 'filters', at: `/${field}`, message: `must be ${expected}` },
    ]);
  };
  if (declared === 'number' || declared === 'integer') {
    const value = Number(raw);
    if (
      !JSON_NUMBER.test(raw) ||
      !Number.isFinite(value) ||
      (declared === 'integer' && !Number.isInteger(value))
    )
      fail(`a ${declared}`);
    return { field, value };
  }
  if (declared === 'boolean') {
    if (raw !== 'true' && raw !== 'false') fail('true or false');
    return { field, value: raw === 'true' };
  }
  if (declared === 'null') {
    if (raw !== 'null') fail('null');
    return { field, value: null };
  }
  // Nothing stored holds U+0000 (see unstorable), and PostgreSQL refuses it as a parameter.
  if (raw.includes('\u0000')) fail('text without U+0000');
  return { field, value: raw };
}
