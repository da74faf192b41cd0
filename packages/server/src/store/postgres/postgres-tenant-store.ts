import type { NodeKey } from '@palisade/ledger';
import type pg from 'pg';
import { isUuid } from '../../ids/index.ts';
import type { TenantAuthzReader } from '../authz-types.ts';
import type { TenantDeviceCaReader } from '../device-ca-types.ts';
import type { TenantDeviceReader } from '../device-types.ts';
import type { TenantEdgeRuleReader } from '../edge-rule-types.ts';
import type { TenantEdgeReader } from '../edge-types.ts';
import type { SealedFields, TenantKeyReader } from '../key-types.ts';
import {
  type CollectionDbRow,
  collectionParams,
  type EntryDbRow,
  RECORD_COLUMNS,
  refusedWrite,
  toCollection,
  toEntry,
} from '../tenant-data-rows.ts';
import { droppedTenant } from '../tenant-rows.ts';
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
import type { TenantUserReader } from '../user-types.ts';
import { PgTenantAuthz } from './postgres-authz-store.ts';
import { PgTenantDeviceCas } from './postgres-device-ca-store.ts';
import { PgTenantDevices } from './postgres-device-store.ts';
import { PgTenantEdgeRules } from './postgres-edge-rule-store.ts';
import { PgTenantEdge } from './postgres-edge-store.ts';
import { PgTenantKeys, sealedFromRow, sealedParams } from './postgres-key-store.ts';
import { PgTenantUsers } from './postgres-user-store.ts';
import { lockTenant, tenantLockKey } from './tenant-lock.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

interface RecordPgRow {
  collection: string;
  id: string;
  data: Record<string, unknown>;
  version: number;
  created_at: Date;
  updated_at: Date;
  sealed: string | null;
  blind: Record<string, string> | null;
  key_version: number | null;
}

const ENTRY_COLUMNS = 'seq::float8 AS seq, batch::float8 AS batch, resource, entry, salt';

function toRecord(row: RecordPgRow): RecordRow {
  return {
    collection: row.collection,
    id: row.id,
    data: row.data,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    sealed: sealedFromRow(row),
  };
}

/**
 * Queries of one tenant on a client whose transaction has `app.tenant_id` set. Every
 * statement also names tenant_id, so the index is used; RLS is the second lock, not the first.
 */
class PgTenantQueries implements TenantWriteTx {
  readonly #db: Queryable;
  readonly #tenantId: string;
  readonly #writes: () => number;
  readonly #afterCommit: (() => void)[] = [];
  readonly keys: PgTenantKeys;
  readonly devices: PgTenantDevices;
  readonly deviceCas: PgTenantDeviceCas;
  readonly edge: PgTenantEdge;
  readonly edgeRules: PgTenantEdgeRules;
  readonly users: PgTenantUsers;
  readonly authz: PgTenantAuthz;

  constructor(db: Queryable, tenantId: string, writes: () => number) {
    this.#db = db;
    this.#tenantId = tenantId;
    this.#writes = writes;
    this.keys = new PgTenantKeys(db, tenantId);
    this.devices = new PgTenantDevices(db, tenantId);
    this.deviceCas = new PgTenantDeviceCas(db, tenantId);
    this.edge = new PgTenantEdge(db, tenantId);
    this.edgeRules = new PgTenantEdgeRules(db, tenantId);
    this.users = new PgTenantUsers(db, tenantId);
    this.authz = new PgTenantAuthz(db, tenantId);
  }

  writeCount(): number {
    return this.#writes();
  }

  afterCommit(fn: () => void): void {
    this.#afterCommit.push(fn);
  }

  /** Runs what waited for the commit (call once it is done). */
  committed(): void {
    for (const fn of this.#afterCommit) fn();
  }

  async getCollection(name: string): Promise<CollectionRow | undefined> {
    const result = await this.#db.query<CollectionDbRow>(
      'SELECT * FROM collections WHERE tenant_id = $1 AND name = $2',
      [this.#tenantId, name],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toCollection(row);
  }

  async listCollections(page: PageQuery): Promise<CollectionRow[]> {
    const result = await this.#db.query<CollectionDbRow>(
      `SELECT * FROM collections WHERE tenant_id = $1 AND ($2::text IS NULL OR name > $2)
       ORDER BY name LIMIT $3`,
      [this.#tenantId, page.after ?? null, page.limit],
    );
    return result.rows.map(toCollection);
  }

  async countCollections(): Promise<number> {
    const result = await this.#db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM collections WHERE tenant_id = $1',
      [this.#tenantId],
    );
    return result.rows[0]?.n ?? 0;
  }

  async lockCollectionCount(): Promise<number> {
    await lockTenant(this.#db, this.#tenantId, 'collections');
    return this.countCollections();
  }

  // Row locks re-read a row changed meanwhile (READ COMMITTED), so each is one statement.
  collectionForWrite(name: string): Promise<CollectionRow | undefined> {
    return this.#lockedCollection(name, 'FOR SHARE');
  }

  async collectionForChange(name: string): Promise<CollectionRow | undefined> {
    // A collection not made yet has no row to lock: the tenant's lock orders its creators.
    await lockTenant(this.#db, this.#tenantId, 'collections');
    return this.#lockedCollection(name, 'FOR UPDATE');
  }

  async #lockedCollection(
    name: string,
    lock: 'FOR SHARE' | 'FOR UPDATE',
  ): Promise<CollectionRow | undefined> {
    const result = await this.#db.query<CollectionDbRow>(
      `SELECT * FROM collections WHERE tenant_id = $1 AND name = $2 ${lock}`,
      [this.#tenantId, name],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toCollection(row);
  }

  async holdLedgerHead(): Promise<LedgerHead> {
    await lockTenant(this.#db, this.#tenantId, 'ledger');
    return this.ledgerHead();
  }

  async getRecord(collection: string, id: string): Promise<RecordRow | undefined> {
    const result = await this.#db.query<RecordPgRow>(
      `SELECT ${RECORD_COLUMNS} FROM records WHERE tenant_id = $1 AND collection = $2 AND id = $3`,
      [this.#tenantId, collection, id],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toRecord(row);
  }

  async listRecords(collection: string, query: RecordQuery): Promise<RecordRow[]> {
    const params: unknown[] = [this.#tenantId, collection, query.after ?? null];
    const where = ['tenant_id = $1', 'collection = $2', '($3::uuid IS NULL OR id > $3::uuid)'];
    for (const filter of query.filters) {
      if (filter.blind === true) {
        params.push(filter.field, String(filter.value));
        where.push(`blind ->> $${params.length - 1}::text = $${params.length}::text`);
        continue;
      }
      params.push(filter.field, JSON.stringify(filter.value));
      where.push(`data -> $${params.length - 1}::text = $${params.length}::jsonb`);
    }
    if (query.ids !== undefined) {
      params.push(query.ids);
      where.push(`id = ANY($${params.length}::uuid[])`);
    }
    params.push(query.limit);
    const result = await this.#db.query<RecordPgRow>(
      `SELECT ${RECORD_COLUMNS} FROM records WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${params.length}`,
      params,
    );
    return result.rows.map(toRecord);
  }

  async ledgerHead(): Promise<LedgerHead> {
    const result = await this.#db.query<LedgerHead>(
      `SELECT (SELECT coalesce(max(batch) + 1, 0) FROM ledger_batches WHERE tenant_id = $1)::float8 AS size,
              (SELECT coalesce(max(seq) + 1, 0) FROM ledger_entries WHERE tenant_id = $1)::float8 AS "nextSeq"`,
      [this.#tenantId],
    );
    return result.rows[0]!;
  }

  async readNodes(keys: readonly NodeKey[]): Promise<Uint8Array[]> {
    if (keys.length === 0) return [];
    const result = await this.#db.query<{ level: number; idx: number; hash: Buffer }>(
      `SELECT n.level, n.idx::float8 AS idx, n.hash FROM ledger_nodes n
       JOIN unnest($2::int[], $3::int8[]) AS k (level, idx) ON n.level = k.level AND n.idx = k.idx
       WHERE n.tenant_id = $1`,
      [this.#tenantId, keys.map((k) => k.level), keys.map((k) => k.index)],
    );
    const found = new Map(result.rows.map((r) => [`${r.level}/${r.idx}`, r.hash]));
    return keys.map((key) => {
      const hash = found.get(`${key.level}/${key.index}`);
      if (hash === undefined) throw new Error(`ledger node ${key.level}/${key.index} is missing`);
      return hash;
    });
  }

  async ledgerEntries(from: number, to: number): Promise<LedgerEntryRow[]> {
    const result = await this.#db.query<EntryDbRow>(
      `SELECT ${ENTRY_COLUMNS} FROM ledger_entries WHERE tenant_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq`,
      [this.#tenantId, from, to],
    );
    return result.rows.map(toEntry);
  }

  async nonTelemetryEntries(from: number, to: number): Promise<LedgerEntryRow[]> {
    const result = await this.#db.query<EntryDbRow>(
      `SELECT ${ENTRY_COLUMNS} FROM ledger_entries
       WHERE tenant_id = $1 AND seq >= $2 AND seq < $3 AND resource NOT LIKE 'telemetry/%' ORDER BY seq`,
      [this.#tenantId, from, to],
    );
    return result.rows.map(toEntry);
  }

  async ledgerBatches(from: number, to: number): Promise<LedgerBatchRow[]> {
    const result = await this.#db.query<LedgerBatchRow>(
      'SELECT batch::float8 AS batch, leaf FROM ledger_batches WHERE tenant_id = $1 AND batch >= $2 AND batch < $3 ORDER BY batch',
      [this.#tenantId, from, to],
    );
    return result.rows;
  }

  async latestEntry(resource: string): Promise<LedgerEntryRow | undefined> {
    const result = await this.#db.query<EntryDbRow>(
      `SELECT ${ENTRY_COLUMNS} FROM ledger_entries
       WHERE tenant_id = $1 AND resource = $2 AND resource NOT LIKE 'telemetry/%' ORDER BY seq DESC LIMIT 1`,
      [this.#tenantId, resource],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toEntry(row);
  }

  async appendLedger(write: LedgerBatchWrite): Promise<void> {
    const t = this.#tenantId;
    const e = write.entries;
    await this.#db.query(
      `INSERT INTO ledger_entries (tenant_id, seq, batch, resource, entry, salt)
       SELECT $1, * FROM unnest($2::int8[], $3::int8[], $4::text[], $5::text[], $6::bytea[])`,
      [
        t,
        e.map((x) => x.seq),
        e.map((x) => x.batch),
        e.map((x) => x.resource),
        e.map((x) => x.entry),
        e.map((x) => (x.salt === null ? null : Buffer.from(x.salt))),
      ],
    );
    await this.#db.query(
      'INSERT INTO ledger_batches (tenant_id, batch, leaf) VALUES ($1, $2, $3)',
      [t, write.batch, write.leaf],
    );
    const n = write.nodes;
    await this.#db.query(
      'INSERT INTO ledger_nodes (tenant_id, level, idx, hash) SELECT $1, * FROM unnest($2::int[], $3::int8[], $4::bytea[])',
      [t, n.map((x) => x.level), n.map((x) => x.index), n.map((x) => Buffer.from(x.hash))],
    );
  }

  /** Removes every row of the tenant, children first (only the owner may delete the ledger). */
  async purge(): Promise<void> {
    await this.edge.purge();
    await this.users.purge();
    await this.authz.purge();
    await this.devices.purge();
    await this.#db.query('DELETE FROM data_keys WHERE tenant_id = $1', [this.#tenantId]);
    await this.#db.query('DELETE FROM key_jobs WHERE tenant_id = $1', [this.#tenantId]);
    await this.#db.query('DELETE FROM records WHERE tenant_id = $1', [this.#tenantId]);
    await this.#db.query('DELETE FROM collections WHERE tenant_id = $1', [this.#tenantId]);
    for (const table of ['ledger_entries', 'ledger_batches', 'ledger_nodes'])
      await this.#db.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [this.#tenantId]);
  }

  async putCollection(row: CollectionRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO collections (tenant_id, name, schema, encrypted, version, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (tenant_id, name) DO UPDATE SET schema = excluded.schema, encrypted = excluded.encrypted,
         version = excluded.version, updated_at = excluded.updated_at`,
      [this.#tenantId, ...collectionParams(row)],
    );
  }

  async insertRecord(row: RecordRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO records (tenant_id, ${RECORD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        this.#tenantId,
        row.collection,
        row.id,
        JSON.stringify(row.data),
        row.version,
        row.createdAt,
        row.updatedAt,
        ...sealedParams(row.sealed),
      ],
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
    const result = await this.#db.query<RecordPgRow>(
      `UPDATE records SET data = $1, version = version + 1, updated_at = $2, sealed = $7, blind = $8, key_version = $9
       WHERE tenant_id = $3 AND collection = $4 AND id = $5 AND ($6::int IS NULL OR version = $6::int)
       RETURNING ${RECORD_COLUMNS}`,
      [
        JSON.stringify(data),
        updatedAt,
        this.#tenantId,
        collection,
        id,
        expectedVersion ?? null,
        ...sealedParams(sealed),
      ],
    );
    const row = result.rows[0];
    if (row !== undefined) return { ok: true, row: toRecord(row) };
    return refusedWrite(await this.getRecord(collection, id));
  }

  async deleteRecord(
    collection: string,
    id: string,
    expectedVersion: number | undefined,
  ): Promise<ConditionalWrite<RecordRow>> {
    const result = await this.#db.query<RecordPgRow>(
      `DELETE FROM records WHERE tenant_id = $1 AND collection = $2 AND id = $3 AND ($4::int IS NULL OR version = $4::int)
       RETURNING ${RECORD_COLUMNS}`,
      [this.#tenantId, collection, id, expectedVersion ?? null],
    );
    const row = result.rows[0];
    if (row !== undefined) return { ok: true, row: toRecord(row) };
    return refusedWrite(await this.getRecord(collection, id));
  }
}

/**
 * `client`'s queries, counting the rows their statements inserted, updated or deleted (no
 * tenant table is written by a SELECT: there are no writing functions or triggers).
 */
function countingWrites(client: Queryable): { db: Queryable; writes: () => number } {
  let writes = 0;
  const count = (result: pg.QueryResult | pg.QueryResult[]) => {
    for (const r of Array.isArray(result) ? result : [result])
      if (r.command !== 'SELECT') writes += r.rowCount ?? 0;
    return result;
  };
  const query = (...args: unknown[]) =>
    (client.query as (...a: unknown[]) => Promise<pg.QueryResult | pg.QueryResult[]>)(...args).then(
      count,
    );
  return { db: { query } as unknown as Queryable, writes: () => writes };
}

/** The tenant a transaction is bound to, and its shard (named when the tenant was dropped). */
interface ShardTenant {
  readonly shardId: string;
  readonly tenantId: string;
}

/**
 * How a transaction of `tenantId` opens, in one round trip: it sets `app.tenant_id`
 * transaction-locally, so a pooled connection never carries a tenant over. A write
 * transaction does so through `palisade_write_tenant` (shard migrations 24 and 26), which also holds
 * the tenant's `live` lock shared, then looks for the tenant's tombstone. A drop takes that
 * lock exclusively as it writes the tombstone: it waits for the writes of the tenant under way
 * in every process, and every later write finds the tombstone.
 */
function opening(tenantId: string, mode: 'READ ONLY' | 'READ WRITE'): string {
  // Inlined because a multi-statement query cannot take parameters; the UUID check makes it safe.
  if (!isUuid(tenantId)) throw new TypeError('tenant id must be a UUID');
  return mode === 'READ ONLY'
    ? `BEGIN READ ONLY; SELECT set_config('app.tenant_id', '${tenantId}', true)`
    : `BEGIN READ WRITE; SELECT palisade_write_tenant('${tenantId}') AS live`;
}

/**
 * Runs `work` in a transaction bound to one tenant (see `opening`). A write transaction of a
 * dropped tenant is refused PALISADE_TENANT_DELETED before `work` runs.
 */
async function inTenantTransaction<T>(
  pool: pg.Pool,
  { shardId, tenantId }: ShardTenant,
  mode: 'READ ONLY' | 'READ WRITE',
  work: (queries: PgTenantQueries) => Promise<T>,
): Promise<T> {
  const begin = opening(tenantId, mode);
  const client = await pool.connect();
  const { db, writes } = countingWrites(client);
  const queries = new PgTenantQueries(db, tenantId, writes);
  let result: T;
  try {
    const opened = (await client.query(begin)) as unknown as pg.QueryResult[];
    if (opened.at(-1)?.rows[0]?.live === false) throw droppedTenant(tenantId, shardId);
    result = await work(queries);
    await client.query('COMMIT');
    client.release();
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
    throw error;
  }
  queries.committed();
  return result;
}

/**
 * Drops the tenant from the shard on `owner`, a connection of the shard's owner with no
 * transaction open: under the tenant's `live` lock, once the writes of it under way have
 * ended, writes its tombstone and removes every row of it, ledger included (the runtime role
 * cannot delete ledger rows, by design), in one transaction.
 */
export async function dropTenantRows(owner: Queryable, tenantId: string): Promise<void> {
  if (!isUuid(tenantId)) throw new TypeError('tenant id must be a UUID');
  // FORCEd row-level security binds the owner too, unless it is a superuser.
  await owner.query(`BEGIN; SELECT set_config('app.tenant_id', '${tenantId}', true),
    pg_advisory_xact_lock(hashtextextended('${tenantLockKey(tenantId, 'live')}', 0))`);
  try {
    await owner.query(
      'INSERT INTO dropped_tenants (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING',
      [tenantId],
    );
    await new PgTenantQueries(owner, tenantId, () => 0).purge();
    await owner.query('COMMIT');
  } catch (error) {
    await owner.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Reads run each in their own short read-only transaction. */
class PgTenantReader implements TenantReader {
  readonly #pool: pg.Pool;
  readonly #tenant: ShardTenant;
  constructor(pool: pg.Pool, tenant: ShardTenant) {
    this.#pool = pool;
    this.#tenant = tenant;
  }
  #read<T>(work: (q: PgTenantQueries) => Promise<T>): Promise<T> {
    return inTenantTransaction(this.#pool, this.#tenant, 'READ ONLY', work);
  }
  readonly keys: TenantKeyReader = {
    listDataKeys: () => this.#read((q) => q.keys.listDataKeys()),
    getKeyJob: (id) => this.#read((q) => q.keys.getKeyJob(id)),
    listKeyJobs: () => this.#read((q) => q.keys.listKeyJobs()),
    recordsPerKeyVersion: () => this.#read((q) => q.keys.recordsPerKeyVersion()),
    recordsBelowKeyVersion: (version, limit) =>
      this.#read((q) => q.keys.recordsBelowKeyVersion(version, limit)),
  };
  readonly devices: TenantDeviceReader = {
    getDevice: (id) => this.#read((q) => q.devices.getDevice(id)),
    getDeviceByName: (name) => this.#read((q) => q.devices.getDeviceByName(name)),
    listDevices: (page) => this.#read((q) => q.devices.listDevices(page)),
    countDevices: () => this.#read((q) => q.devices.countDevices()),
    listEdgeNodeDevices: (nodeId, page) =>
      this.#read((q) => q.devices.listEdgeNodeDevices(nodeId, page)),
    telemetry: (query) => this.#read((q) => q.devices.telemetry(query)),
    aggregate: (query) => this.#read((q) => q.devices.aggregate(query)),
    latest: (deviceId, keys) => this.#read((q) => q.devices.latest(deviceId, keys)),
    getRpc: (deviceId, id) => this.#read((q) => q.devices.getRpc(deviceId, id)),
    pendingRpcs: (deviceId, now, limit, sentBefore) =>
      this.#read((q) => q.devices.pendingRpcs(deviceId, now, limit, sentBefore)),
  };
  readonly deviceCas: TenantDeviceCaReader = {
    getCaKey: (caId) => this.#read((q) => q.deviceCas.getCaKey(caId)),
    listCaKeyIds: () => this.#read((q) => q.deviceCas.listCaKeyIds()),
  };
  readonly edge: TenantEdgeReader = {
    getNode: (id) => this.#read((q) => q.edge.getNode(id)),
    nodeByCredential: (hash) => this.#read((q) => q.edge.nodeByCredential(hash)),
    listNodes: (page) => this.#read((q) => q.edge.listNodes(page)),
    getBatch: (nodeId, batchId) => this.#read((q) => q.edge.getBatch(nodeId, batchId)),
    listAlerts: (nodeId, page) => this.#read((q) => q.edge.listAlerts(nodeId, page)),
  };
  readonly edgeRules: TenantEdgeRuleReader = {
    getRuleSet: (deviceType) => this.#read((q) => q.edgeRules.getRuleSet(deviceType)),
    listRuleSets: (after, limit) => this.#read((q) => q.edgeRules.listRuleSets(after, limit)),
  };
  readonly users: TenantUserReader = {
    getUser: (id) => this.#read((q) => q.users.getUser(id)),
    getUserByEmail: (email) => this.#read((q) => q.users.getUserByEmail(email)),
    listUsers: (page) => this.#read((q) => q.users.listUsers(page)),
    getInvitation: (hash) => this.#read((q) => q.users.getInvitation(hash)),
    getSignInFailures: (nameKeys) => this.#read((q) => q.users.getSignInFailures(nameKeys)),
  };
  readonly authz: TenantAuthzReader = {
    getRole: (name) => this.#read((q) => q.authz.getRole(name)),
    listRoles: () => this.#read((q) => q.authz.listRoles()),
    getPolicySet: () => this.#read((q) => q.authz.getPolicySet()),
  };
  getCollection(name: string) {
    return this.#read((q) => q.getCollection(name));
  }
  listCollections(page: PageQuery) {
    return this.#read((q) => q.listCollections(page));
  }
  countCollections() {
    return this.#read((q) => q.countCollections());
  }
  getRecord(collection: string, id: string) {
    return this.#read((q) => q.getRecord(collection, id));
  }
  listRecords(collection: string, query: RecordQuery) {
    return this.#read((q) => q.listRecords(collection, query));
  }
  ledgerHead() {
    return this.#read((q) => q.ledgerHead());
  }
  readNodes(keys: readonly NodeKey[]) {
    return this.#read((q) => q.readNodes(keys));
  }
  ledgerEntries(from: number, to: number) {
    return this.#read((q) => q.ledgerEntries(from, to));
  }
  nonTelemetryEntries(from: number, to: number) {
    return this.#read((q) => q.nonTelemetryEntries(from, to));
  }
  ledgerBatches(from: number, to: number) {
    return this.#read((q) => q.ledgerBatches(from, to));
  }
  latestEntry(resource: string) {
    return this.#read((q) => q.latestEntry(resource));
  }
}

/** One tenant's rows in a PostgreSQL shard. */
export class PostgresTenantStore implements TenantStore {
  readonly tenantId: string;
  readonly reader: TenantReader;
  readonly #pool: pg.Pool;
  readonly #tenant: ShardTenant;

  constructor(pool: pg.Pool, shardId: string, tenantId: string) {
    this.tenantId = tenantId;
    this.#pool = pool;
    this.#tenant = { shardId, tenantId };
    this.reader = new PgTenantReader(pool, this.#tenant);
  }

  transaction<T>(work: (tx: TenantWriteTx) => Promise<T>): Promise<T> {
    return inTenantTransaction(this.#pool, this.#tenant, 'READ WRITE', work);
  }
}
