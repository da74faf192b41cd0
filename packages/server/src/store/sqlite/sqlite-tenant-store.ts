import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { NodeKey } from '@palisade/ledger';
import type { PalisadeError } from '../../errors/index.ts';
import type { SealedFields } from '../key-types.ts';
import { StoredJsonRecord } from '../stored-json.ts';
import {
  type CollectionDbRow,
  collectionParams,
  type EntryDbRow,
  RECORD_COLUMNS,
  refusedWrite,
  toCollection,
  toEntry,
} from '../tenant-data-rows.ts';
import type {
  CollectionRow,
  ConditionalWrite,
  LedgerBatchRow,
  LedgerBatchWrite,
  LedgerEntryRow,
  LedgerHead,
  PageQuery,
  RecordQuery,
  RecordRow,
  TenantReader,
  TenantStore,
  TenantWriteTx,
} from '../types.ts';
import { SqliteTenantAuthz } from './sqlite-authz-store.ts';
import { SqliteTenantDeviceCas } from './sqlite-device-ca-store.ts';
import { type DeviceStoreRole, SqliteTenantDevices } from './sqlite-device-store.ts';
import { SqliteTenantEdgeRules } from './sqlite-edge-rule-store.ts';
import { SqliteTenantEdge } from './sqlite-edge-store.ts';
import { SqliteTenantKeys, sealedColumns, sealedFromColumns } from './sqlite-key-store.ts';
import { SqliteTenantUsers } from './sqlite-user-store.ts';
import { StagedLatest } from './staged-latest.ts';

/** A record row in RECORD_COLUMNS order: record reads return arrays, not named objects. */
type RecordSqlRow = [
  collection: string,
  id: string,
  data: string,
  version: number,
  createdAt: string,
  updatedAt: string,
  sealed: string | null,
  blind: string | null,
  keyVersion: number | null,
];

/** A record row, its data kept as the stored text (sent as it is, see StoredJsonRecord). */
function toRecord(row: RecordSqlRow): RecordRow {
  const fields = {
    collection: row[0],
    id: row[1],
    version: row[3],
    createdAt: row[4],
    updatedAt: row[5],
  };
  return new StoredJsonRecord(fields, row[2], sealedFromColumns(row[6], row[7], row[8]));
}

/**
 * Prepared statements of one connection, made on first use. `rows` statements return each
 * row as an array in column order: node:sqlite builds a named-property object per row
 * otherwise, a measurable share of a record read.
 */
class Statements {
  readonly #db: DatabaseSync;
  readonly #cache = new Map<string, StatementSync>();
  readonly #arrays = new Map<string, StatementSync>();
  /** Why every statement is refused once the tenant was dropped (its file closed). */
  #refusal: PalisadeError | undefined;
  constructor(db: DatabaseSync) {
    this.#db = db;
  }
  /** Refuses every later statement with `refusal`, the file being closed for good. */
  refuse(refusal: PalisadeError): void {
    this.#refusal = refusal;
  }
  get(sql: string): StatementSync {
    if (this.#refusal !== undefined) throw this.#refusal;
    let statement = this.#cache.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#cache.set(sql, statement);
    }
    return statement;
  }
  rows(sql: string): StatementSync {
    if (this.#refusal !== undefined) throw this.#refusal;
    let statement = this.#arrays.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      statement.setReturnArrays(true);
      this.#arrays.set(sql, statement);
    }
    return statement;
  }
}

class SqliteTenantReader implements TenantReader {
  protected readonly sql: Statements;
  readonly keys: SqliteTenantKeys;
  readonly devices: SqliteTenantDevices;
  readonly deviceCas: SqliteTenantDeviceCas;
  readonly edge: SqliteTenantEdge;
  readonly edgeRules: SqliteTenantEdgeRules;
  readonly users: SqliteTenantUsers;
  readonly authz: SqliteTenantAuthz;
  constructor(db: DatabaseSync, role: DeviceStoreRole) {
    this.sql = new Statements(db);
    this.keys = new SqliteTenantKeys((sql) => this.sql.get(sql));
    this.devices = new SqliteTenantDevices((sql) => this.sql.get(sql), role);
    this.deviceCas = new SqliteTenantDeviceCas((sql) => this.sql.get(sql));
    this.edge = new SqliteTenantEdge((sql) => this.sql.get(sql));
    this.edgeRules = new SqliteTenantEdgeRules((sql) => this.sql.get(sql));
    this.users = new SqliteTenantUsers((sql) => this.sql.get(sql));
    this.authz = new SqliteTenantAuthz((sql) => this.sql.get(sql));
  }
  /** Refuses every later read with `refusal` (see SqliteTenantStore.drop). */
  refuse(refusal: PalisadeError): void {
    this.sql.refuse(refusal);
  }

  async getCollection(name: string): Promise<CollectionRow | undefined> {
    const row = this.sql.get('SELECT * FROM collections WHERE name = ?').get(name) as
      | CollectionDbRow
      | undefined;
    return row === undefined ? undefined : toCollection(row);
  }

  async listCollections(page: PageQuery): Promise<CollectionRow[]> {
    const rows = this.sql
      .get('SELECT * FROM collections WHERE name > ? ORDER BY name LIMIT ?')
      .all(page.after ?? '', page.limit) as unknown as CollectionDbRow[];
    return rows.map(toCollection);
  }

  async countCollections(): Promise<number> {
    return (this.sql.get('SELECT count(*) AS n FROM collections').get() as { n: number }).n;
  }

  async getRecord(collection: string, id: string): Promise<RecordRow | undefined> {
    const row = this.sql
      .rows(`SELECT ${RECORD_COLUMNS} FROM records WHERE collection = ? AND id = ?`)
      .get(collection, id) as RecordSqlRow | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  async listRecords(collection: string, query: RecordQuery): Promise<RecordRow[]> {
    const where = ['collection = ?', 'id > ?'];
    const params: (string | number)[] = [collection, query.after ?? ''];
    for (const filter of query.filters) {
      if (filter.blind === true) {
        where.push('blind ->> ? = ?');
        params.push(`$."${filter.field}"`, String(filter.value));
        continue;
      }
      where.push('data -> ? = ?');
      params.push(`$."${filter.field}"`, JSON.stringify(filter.value));
    }
    if (query.ids !== undefined) {
      where.push('id IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(query.ids));
    }
    params.push(query.limit);
    const rows = this.sql
      .rows(
        `SELECT ${RECORD_COLUMNS} FROM records WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`,
      )
      .all(...params) as unknown as RecordSqlRow[];
    return rows.map(toRecord);
  }

  async ledgerHead(): Promise<LedgerHead> {
    return this.sql
      .get(
        `SELECT (SELECT coalesce(max(batch) + 1, 0) FROM ledger_batches) AS size,
                (SELECT coalesce(max(seq) + 1, 0) FROM ledger_entries) AS nextSeq`,
      )
      .get() as unknown as LedgerHead;
  }

  async readNodes(keys: readonly NodeKey[]): Promise<Uint8Array[]> {
    const statement = this.sql.get('SELECT hash FROM ledger_nodes WHERE level = ? AND idx = ?');
    return keys.map((key) => {
      const row = statement.get(key.level, key.index) as { hash: Uint8Array } | undefined;
      if (row === undefined) throw new Error(`ledger node ${key.level}/${key.index} is missing`);
      return row.hash;
    });
  }

  async ledgerEntries(from: number, to: number): Promise<LedgerEntryRow[]> {
    const rows = this.sql
      .get(
        'SELECT seq, batch, resource, entry, salt FROM ledger_entries WHERE seq >= ? AND seq < ? ORDER BY seq',
      )
      .all(from, to) as unknown as EntryDbRow[];
    return rows.map(toEntry);
  }

  async nonTelemetryEntries(from: number, to: number): Promise<LedgerEntryRow[]> {
    const rows = this.sql
      .get(
        `SELECT seq, batch, resource, entry, salt FROM ledger_entries
         WHERE seq >= ? AND seq < ? AND resource NOT GLOB 'telemetry/*' ORDER BY seq`,
      )
      .all(from, to) as unknown as EntryDbRow[];
    return rows.map(toEntry);
  }

  async ledgerBatches(from: number, to: number): Promise<LedgerBatchRow[]> {
    return this.sql
      .get('SELECT batch, leaf FROM ledger_batches WHERE batch >= ? AND batch < ? ORDER BY batch')
      .all(from, to) as unknown as LedgerBatchRow[];
  }

  async latestEntry(resource: string): Promise<LedgerEntryRow | undefined> {
    const row = this.sql
      .get(
        `SELECT seq, batch, resource, entry, salt FROM ledger_entries
         WHERE resource = ? AND resource NOT GLOB 'telemetry/*' ORDER BY seq DESC LIMIT 1`,
      )
      .get(resource) as EntryDbRow | undefined;
    return row === undefined ? undefined : toEntry(row);
  }
}

/** Collection definitions one write connection keeps parsed (cleared beyond this many). */
const COLLECTION_CACHE_MAX = 256;

/**
 * The writer's transactions. Only this connection writes the file, so the collections it
 * read or wrote are kept parsed: every record write reads its collection, and reading and
 * parsing the definition was about 4 µs of each. `rolledBack` drops them with the rest.
 */
class SqliteTenantWriteTx extends SqliteTenantReader implements TenantWriteTx {
  readonly #collections = new Map<string, CollectionRow>();
  #afterCommit: (() => void)[] = [];

  writeCount(): number {
    return (this.sql.rows('SELECT total_changes()').get() as unknown as [number])[0];
  }

  override async getCollection(name: string): Promise<CollectionRow | undefined> {
    const cached = this.#collections.get(name);
    if (cached !== undefined) return cached;
    const row = await super.getCollection(name);
    if (row !== undefined) {
      if (this.#collections.size >= COLLECTION_CACHE_MAX) this.#collections.clear();
      this.#collections.set(name, row);
    }
    return row;
  }

  afterCommit(fn: () => void): void {
    this.#afterCommit.push(fn);
  }

  /** Runs what waited for the transaction that just committed. */
  committed(): void {
    const waiting = this.#afterCommit;
    this.#afterCommit = [];
    for (const fn of waiting) fn();
  }

  rolledBack(): void {
    this.#collections.clear();
    this.#afterCommit = [];
    this.devices.rolledBack();
  }

  async lockCollectionCount(): Promise<number> {
    // SQLite has one writer: the transaction this runs in already excludes every other.
    return this.countCollections();
  }

  collectionForWrite(name: string): Promise<CollectionRow | undefined> {
    return this.getCollection(name); // one writer, as above
  }

  collectionForChange(name: string): Promise<CollectionRow | undefined> {
    return this.getCollection(name);
  }

  async holdLedgerHead(): Promise<LedgerHead> {
    // As above: no other transaction can append until this one ends.
    return this.ledgerHead();
  }

  async putCollection(row: CollectionRow): Promise<void> {
    this.#collections.delete(row.name);
    this.sql
      .get(
        `INSERT INTO collections (name, schema, encrypted, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET schema = excluded.schema, encrypted = excluded.encrypted,
           version = excluded.version, updated_at = excluded.updated_at`,
      )
      .run(...collectionParams(row));
  }

  async appendLedger(write: LedgerBatchWrite): Promise<void> {
    const entry = this.sql.get(
      'INSERT INTO ledger_entries (seq, batch, resource, entry, salt) VALUES (?, ?, ?, ?, ?)',
    );
    for (const e of write.entries) entry.run(e.seq, e.batch, e.resource, e.entry, e.salt);
    this.sql
      .get('INSERT INTO ledger_batches (batch, leaf) VALUES (?, ?)')
      .run(write.batch, write.leaf);
    const node = this.sql.get('INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)');
    for (const n of write.nodes) node.run(n.level, n.index, n.hash);
  }

  async insertRecord(row: RecordRow): Promise<void> {
    this.sql
      .get(`INSERT INTO records (${RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(
        row.collection,
        row.id,
        JSON.stringify(row.data),
        row.version,
        row.createdAt,
        row.updatedAt,
        ...sealedColumns(row.sealed),
      );
  }

  async updateRecord(
    collection: string,
    id: string,
    data: Record<string, unknown>,
    expectedVersion: number | undefined,
    updatedAt: string,
    sealed?: SealedFields,
  ): Promise<ConditionalWrite<RecordRow>> {
    const row = this.sql
      .rows(
        `UPDATE records SET data = ?, version = version + 1, updated_at = ?, sealed = ?, blind = ?, key_version = ?
         WHERE collection = ? AND id = ? AND (? IS NULL OR version = ?) RETURNING ${RECORD_COLUMNS}`,
      )
      .get(
        JSON.stringify(data),
        updatedAt,
        ...sealedColumns(sealed),
        collection,
        id,
        expectedVersion ?? null,
        expectedVersion ?? null,
      ) as RecordSqlRow | undefined;
    if (row !== undefined) return { ok: true, row: toRecord(row) };
    return refusedWrite(await this.getRecord(collection, id));
  }

  async deleteRecord(
    collection: string,
    id: string,
    expectedVersion: number | undefined,
  ): Promise<ConditionalWrite<RecordRow>> {
    const row = this.sql
      .rows(
        `DELETE FROM records WHERE collection = ? AND id = ? AND (? IS NULL OR version = ?) RETURNING ${RECORD_COLUMNS}`,
      )
      .get(collection, id, expectedVersion ?? null, expectedVersion ?? null) as
      | RecordSqlRow
      | undefined;
    if (row !== undefined) return { ok: true, row: toRecord(row) };
    return refusedWrite(await this.getRecord(collection, id));
  }
}

/** How long staged telemetry waits for its compaction, at most (unless it piles up first). */
const STAGED_COMPACT_MS = 1000;
/** Staged points that start a compaction at once; reads scan the staged table. */
const STAGED_COMPACT_POINTS = 20_000;
/**
 * How long an evicted store keeps its read connection open for a caller that took its reader
 * before the eviction and reads on after an await (see SqliteTenantStore).
 */
const EVICTED_READER_GRACE_MS = 10_000;

/**
 * One tenant's SQLite file, held open as two connections: a writer used only inside
 * transactions (the group commit serializes them) and a read-only reader, which under WAL
 * sees the last committed state and never a transaction in progress.
 *
 * Telemetry is staged and compacted (see SqliteTenantDevices): a commit that staged points
 * schedules a compaction, its own transaction in the same queue, within STAGED_COMPACT_MS.
 *
 * The shard's cache of open files may evict a store that a caller still holds (between its
 * `shard.tenant()` and its write, say): an evicted store hands its reader and transactions on
 * to the tenant's live store, which `reopen` returns, so there is one writer per file and a
 * caller does not meet a closed file.
 */
export class SqliteTenantStore implements TenantStore {
  readonly tenantId: string;
  readonly #reader: SqliteTenantReader;
  readonly #reopen: () => SqliteTenantStore;
  readonly #writer: DatabaseSync;
  readonly #readerDb: DatabaseSync;
  readonly #tx: SqliteTenantWriteTx;
  readonly #stagedLatest: StagedLatest;
  #queue: Promise<unknown> = Promise.resolve();
  #busy = 0;
  #staged = 0;
  #compaction: NodeJS.Timeout | undefined;
  #evicted = false;
  #readerGrace: NodeJS.Timeout | undefined;
  /** Why every transaction is refused once the tenant was dropped (`drop`). */
  #dropped: PalisadeError | undefined;

  /** `reopen` returns the tenant's live store once this one has been evicted. */
  constructor(
    tenantId: string,
    writer: DatabaseSync,
    readerDb: DatabaseSync,
    reopen: () => SqliteTenantStore,
  ) {
    this.tenantId = tenantId;
    this.#reopen = reopen;
    this.#writer = writer;
    this.#readerDb = readerDb;
    // Points a previous process staged and never compacted.
    const leftover = writer.prepare('SELECT 1 FROM telemetry_staged LIMIT 1').get() !== undefined;
    this.#stagedLatest = new StagedLatest(!leftover);
    this.#reader = new SqliteTenantReader(readerDb, {
      writer: false,
      stagedLatest: this.#stagedLatest,
    });
    this.#tx = new SqliteTenantWriteTx(writer, { writer: true, stagedLatest: this.#stagedLatest });
    if (leftover) this.#scheduleCompaction(1);
  }

  get reader(): TenantReader {
    return this.#evicted ? this.#reopen().reader : this.#reader;
  }

  get busy(): boolean {
    return this.#busy > 0;
  }

  transaction<T>(work: (tx: TenantWriteTx) => Promise<T>): Promise<T> {
    if (this.#dropped !== undefined) return Promise.reject(this.#dropped);
    if (this.#evicted) return this.#reopen().transaction(work);
    this.#busy += 1;
    const run = async (): Promise<T> => {
      if (this.#dropped !== undefined) throw this.#dropped;
      this.#writer.exec('BEGIN IMMEDIATE');
      let result: T;
      try {
        result = await work(this.#tx);
        this.#writer.exec('COMMIT');
        this.#stagedLatest.committed();
        this.#scheduleCompaction(this.#tx.devices.takeStaged());
      } catch (error) {
        if (this.#writer.isTransaction) this.#writer.exec('ROLLBACK');
        this.#tx.rolledBack();
        throw error;
      }
      this.#tx.committed();
      return result;
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result.finally(() => {
      this.#busy -= 1;
    });
  }

  #scheduleCompaction(points: number): void {
    if (points === 0) return;
    this.#staged += points;
    if (this.#staged < STAGED_COMPACT_POINTS && this.#compaction !== undefined) return;
    clearTimeout(this.#compaction);
    const delay = this.#staged < STAGED_COMPACT_POINTS ? STAGED_COMPACT_MS : 0;
    this.#compaction = setTimeout(() => this.#compact(), delay).unref();
  }

  /** Moves staged telemetry into the telemetry tree now, in a transaction of its own. */
  compactStaged(): Promise<void> {
    if (this.#evicted) return this.#reopen().compactStaged();
    clearTimeout(this.#compaction);
    this.#compaction = undefined;
    this.#staged = 0;
    return this.transaction(async () => this.#tx.devices.compactStaged());
  }

  #compact(): void {
    if (!this.#writer.isOpen) return;
    const points = this.#staged;
    // A failed compaction leaves the points staged, where reads still find them; try again.
    this.compactStaged().catch(() => this.#scheduleCompaction(points));
  }

  /**
   * Evicts a store with no transaction queued: its writer closes at once and its reader after
   * EVICTED_READER_GRACE_MS, for callers that took it before (they may miss latest values staged
   * since). Staged points stay in the file, where the next store to open it compacts them.
   * `closed` is called once the reader has closed too.
   */
  evict(closed: () => void): void {
    this.#evicted = true;
    clearTimeout(this.#compaction);
    this.#compaction = undefined;
    if (this.#writer.isOpen) this.#writer.close();
    this.#readerGrace = setTimeout(() => {
      if (this.#readerDb.isOpen) this.#readerDb.close();
      closed();
    }, EVICTED_READER_GRACE_MS).unref();
  }

  /**
   * Closes for good once the transactions queued before have ended, the tenant being dropped:
   * those queued after, any later one and any later read (through a reader taken before too)
   * are refused with `refusal` rather than meet a closed file.
   */
  drop(refusal: PalisadeError): Promise<void> {
    const closed = this.#queue.then(() => {
      this.#dropped = refusal;
      this.#reader.refuse(refusal);
      this.close();
    });
    this.#queue = closed;
    return closed;
  }

  /** Closes for good (the shard closing): nothing is handed on after. */
  close(): void {
    this.#evicted = false;
    clearTimeout(this.#compaction);
    this.#compaction = undefined;
    clearTimeout(this.#readerGrace);
    if (this.#readerDb.isOpen) this.#readerDb.close();
    if (this.#writer.isOpen) this.#writer.close();
  }
}
