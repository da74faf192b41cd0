import type { NodeKey, TreeNode } from '@palisade/ledger';
import type { Tenant, TenantStatus } from '../tenancy/index.ts';
import type { TenantAuthzReader, TenantAuthzWriter } from './authz-types.ts';
import type { ControlPlaneCorsStore } from './cors-types.ts';
import type { TenantDeviceCaReader, TenantDeviceCaWriter } from './device-ca-types.ts';
import type {
  ControlPlaneDeviceIndex,
  TenantDeviceReader,
  TenantDeviceWriter,
} from './device-types.ts';
import type { DpopProofStore } from './dpop-proof-types.ts';
import type { TenantEdgeRuleReader, TenantEdgeRuleWriter } from './edge-rule-types.ts';
import type { TenantEdgeReader, TenantEdgeWriter } from './edge-types.ts';
import type { ControlPlaneIdentityStore } from './identity-types.ts';
import type {
  ControlPlaneKeyStore,
  SealedFields,
  TenantKeyReader,
  TenantKeyWriter,
} from './key-types.ts';
import type { PartitionFailure, TelemetryWindow } from './postgres/telemetry-partitions.ts';
import type { TenantUserReader, TenantUserWriter } from './user-types.ts';

/** A page of rows after an exclusive cursor key. */
export interface PageQuery {
  readonly after: string | undefined;
  readonly limit: number;
}

export interface ApiKeyRow {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly secretHash: string;
  /** Role names (built-in or the tenant's custom roles) that the key acts with. */
  readonly roles: readonly string[];
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

/** What a bearer secret's hash resolves to. */
export type StoredCredential =
  | { readonly kind: 'admin' }
  | {
      readonly kind: 'api-key';
      readonly keyId: string;
      readonly tenant: Tenant;
      readonly roles: readonly string[];
    };

export interface ShardRow {
  readonly id: string;
  readonly location: string;
}

/** Platform-wide state: tenants, their placement, platform credentials. */
export interface ControlPlaneStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Tenant KEKs (crypto-shredding deletes them here first). */
  readonly keys: ControlPlaneKeyStore;
  /** The platform-wide index of device credentials. */
  readonly devices: ControlPlaneDeviceIndex;
  /** Each tenant's OAuth/OIDC issuer: clients, signing keys, protocol artifacts, revocations. */
  readonly identity: ControlPlaneIdentityStore;
  /** Each tenant's CORS allow-list. */
  readonly cors: ControlPlaneCorsStore;
  /** The DPoP proofs every API process accepted, within their windows. */
  readonly dpopProofs: DpopProofStore;
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;

  getAdminTokenHash(): Promise<string | undefined>;
  setAdminTokenHash(hash: string): Promise<void>;

  registerShards(shards: readonly ShardRow[]): Promise<void>;
  /**
   * Of the registered shards among `ids`, the one with the fewest tenants that are not
   * deleted (ties by id); undefined when none of them is registered.
   */
  leastLoadedShard(ids: readonly string[]): Promise<string | undefined>;

  /** Throws PALISADE_SLUG_TAKEN when the slug exists. */
  insertTenant(tenant: Tenant): Promise<void>;
  /**
   * Writes a tenant whose creation begins: its row (which holds its slug and counts on its
   * shard) with its creation mark, at once. Until `finishTenantCreation`, `getTenant`,
   * `listTenants` and `identity.tenantBySlug` do not show it. Throws PALISADE_SLUG_TAKEN.
   */
  beginTenantCreation(tenant: Tenant): Promise<void>;
  /** Removes the creation mark, so the tenant is shown; false when it had none (discarded). */
  finishTenantCreation(tenantId: string): Promise<boolean>;
  /** Tenants whose creation began and neither finished nor was discarded, oldest first. */
  unfinishedCreations(): Promise<Tenant[]>;
  /** The tenant, unless its creation has not finished. */
  getTenant(id: string): Promise<Tenant | undefined>;
  /** The tenants whose creation finished. */
  listTenants(page: PageQuery): Promise<Tenant[]>;
  updateTenant(
    id: string,
    fields: { name?: string; plan?: string; status?: TenantStatus },
    updatedAt: string,
  ): Promise<Tenant | undefined>;

  insertApiKey(key: ApiKeyRow): Promise<void>;
  listApiKeys(tenantId: string): Promise<ApiKeyRow[]>;
  /** Marks the key revoked; false when the tenant has no such live key. */
  revokeApiKey(tenantId: string, keyId: string, at: string): Promise<boolean>;
  revokeAllApiKeys(tenantId: string, at: string): Promise<void>;
  /**
   * Erases a deleted tenant from the control plane: every row of it in `TENANT_CONTROL_TABLES`,
   * and its name; its tombstone row (id, slug, plan, shard, dates) stays, so neither is reused. SQLite overwrites
   * the deleted bytes and empties its WAL (throwing when another connection holds that off).
   */
  eraseTenant(tenantId: string, at: string): Promise<void>;
  /**
   * Removes a tenant whose creation failed as if it had never been: every row of it in
   * `TENANT_CONTROL_TABLES`, its creation mark and its tenant row, so its slug is free again and its shard does
   * not count it. Only for a tenant nobody was told of; a deleted one keeps its tombstone.
   */
  discardTenant(tenantId: string): Promise<void>;
  findCredential(secretHash: string): Promise<StoredCredential | undefined>;
}

/** A collection definition as stored. */
export interface CollectionRow {
  readonly name: string;
  readonly schema: Record<string, unknown>;
  readonly encrypted: readonly string[];
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * A record as stored: `data` is the JSON object the tenant wrote, less its encrypted fields,
 * which are in `sealed` (ciphertext only) until the record service opens them.
 */
export interface RecordRow {
  readonly collection: string;
  readonly id: string;
  readonly data: Record<string, unknown>;
  readonly sealed?: SealedFields | undefined;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Equality on one top-level field of a record's JSON. */
export interface FieldFilter {
  readonly field: string;
  readonly value: string | number | boolean | null;
  /** The value is the blind index of an encrypted field, compared with its stored index. */
  readonly blind?: boolean;
}

export interface RecordQuery extends PageQuery {
  readonly filters: readonly FieldFilter[];
  /** Only the records with one of these ids (UUIDs), when given. */
  readonly ids?: readonly string[] | undefined;
}

/** One stored ledger entry: its canonical JSON and the salt that opens its commitment. */
export interface LedgerEntryRow {
  readonly seq: number;
  readonly batch: number;
  readonly resource: string;
  /** The entry's canonical JSON (RFC 8785): exactly the bytes its leaf hash covers. */
  readonly entry: string;
  /** Random salt of the state commitment; null when the entry commits no state. */
  readonly salt: Uint8Array | null;
}

/** One write batch: its tenant-log leaf (canonical JSON of the batch header). */
export interface LedgerBatchRow {
  readonly batch: number;
  readonly leaf: string;
}

/** Everything one sealed batch adds to the tenant's ledger, written in the data's transaction. */
export interface LedgerBatchWrite extends LedgerBatchRow {
  readonly entries: readonly LedgerEntryRow[];
  /** Newly completed subtree hashes of the tenant log, leaves included. */
  readonly nodes: readonly TreeNode[];
}

/** Where the tenant's ledger ends: its size in batches and the next entry sequence. */
export interface LedgerHead {
  readonly size: number;
  readonly nextSeq: number;
}

/**
 * Reads of one tenant's ledger. Every stored row is immutable (the tables are append-only),
 * so reads at a size taken earlier stay consistent without a snapshot.
 */
export interface TenantLedgerReader {
  ledgerHead(): Promise<LedgerHead>;
  /** Subtree hashes of the tenant log; throws if one is missing. */
  readNodes(keys: readonly NodeKey[]): Promise<Uint8Array[]>;
  /** Entries with `from <= seq < to`, in order. */
  ledgerEntries(from: number, to: number): Promise<LedgerEntryRow[]>;
  /**
   * The entries with `from <= seq < to` but telemetry's (`telemetry/…`), in order: what the bus
   * relay may publish, without materializing the entry of every device message.
   */
  nonTelemetryEntries(from: number, to: number): Promise<LedgerEntryRow[]>;
  /** Batches with `from <= batch < to`, in order. */
  ledgerBatches(from: number, to: number): Promise<LedgerBatchRow[]>;
  /**
   * The newest entry about `resource`. Telemetry entries (`telemetry/…`, one per device
   * message) are not indexed by resource: for them this answers undefined.
   */
  latestEntry(resource: string): Promise<LedgerEntryRow | undefined>;
}

/** Reads of one tenant's data; every method is confined to that tenant. */
export interface TenantReader extends TenantLedgerReader {
  readonly keys: TenantKeyReader;
  readonly devices: TenantDeviceReader;
  readonly deviceCas: TenantDeviceCaReader;
  readonly edge: TenantEdgeReader;
  readonly edgeRules: TenantEdgeRuleReader;
  readonly users: TenantUserReader;
  readonly authz: TenantAuthzReader;
  getCollection(name: string): Promise<CollectionRow | undefined>;
  /** At most `page.limit` collections, by name, after the name `page.after`. */
  listCollections(page: PageQuery): Promise<CollectionRow[]>;
  /** How many collections the tenant holds. */
  countCollections(): Promise<number>;
  getRecord(collection: string, id: string): Promise<RecordRow | undefined>;
  listRecords(collection: string, query: RecordQuery): Promise<RecordRow[]>;
}

/** Outcome of a conditional write: the new row, or why nothing was written. */
export type ConditionalWrite<T> =
  | { readonly ok: true; readonly row: T }
  | { readonly ok: false; readonly reason: 'not-found' | 'version-mismatch' };

/**
 * Writes inside one durable transaction of one tenant. Each method is a single atomic
 * statement: it either writes everything it names or nothing, which lets the group commit
 * keep one caller's refusal from undoing another caller's write in the same batch.
 */
export interface TenantWriteTx extends TenantReader {
  readonly keys: TenantKeyWriter;
  readonly devices: TenantDeviceWriter;
  readonly deviceCas: TenantDeviceCaWriter;
  readonly edge: TenantEdgeWriter;
  readonly edgeRules: TenantEdgeRuleWriter;
  readonly users: TenantUserWriter;
  readonly authz: TenantAuthzWriter;
  /**
   * Holds the tenant's collection-count lock until the transaction ends and counts the
   * tenant's collections (see `devices.lockDeviceCount`): what collectionsMax is checked against.
   */
  lockCollectionCount(): Promise<number>;
  /**
   * The collection as a write of its records relies on it: its definition (schema, encrypted
   * fields) cannot change until the transaction ends; a change waits (collectionForChange).
   */
  collectionForWrite(name: string): Promise<CollectionRow | undefined>;
  /**
   * The collection, held for changing its definition until the transaction ends: read once
   * every other change of the tenant's collections, and every transaction writing records of
   * this one, has ended, so what the change checks (its version, whether it has records) stays
   * true until it commits.
   */
  collectionForChange(name: string): Promise<CollectionRow | undefined>;
  putCollection(row: CollectionRow): Promise<void>;
  /**
   * Where the ledger ends, the tenant's ledger held until the transaction ends: another
   * transaction appending for the tenant (another process's, on PostgreSQL; SQLite has one
   * writer) waits, then reads the end this one made, so each appends the next batch.
   */
  holdLedgerHead(): Promise<LedgerHead>;
  appendLedger(write: LedgerBatchWrite): Promise<void>;
  insertRecord(row: RecordRow): Promise<void>;
  updateRecord(
    collection: string,
    id: string,
    data: Record<string, unknown>,
    expectedVersion: number | undefined,
    updatedAt: string,
    sealed?: SealedFields,
  ): Promise<ConditionalWrite<RecordRow>>;
  deleteRecord(
    collection: string,
    id: string,
    expectedVersion: number | undefined,
  ): Promise<ConditionalWrite<RecordRow>>;
  /**
   * Rows this transaction has inserted, updated or deleted so far (a count that only grows):
   * the group committer compares it around an op to tell whether an op that refused wrote.
   */
  writeCount(): number;
  /**
   * Runs `fn` once this transaction has committed and the store is done with it; never when it
   * rolls back. `fn` must not throw.
   */
  afterCommit(fn: () => void): void;
}

/** One tenant's store on its shard. */
export interface TenantStore {
  readonly tenantId: string;
  readonly reader: TenantReader;
  /** Runs `work` in one transaction that is durable (fsync'd) when the promise resolves. */
  transaction<T>(work: (tx: TenantWriteTx) => Promise<T>): Promise<T>;
}

/** A shard: a folder of SQLite files, or a PostgreSQL database. */
export interface ShardStore {
  readonly id: string;
  readonly location: string;
  /**
   * The tenant's store (on SQLite its file is made the first time). Throws
   * PALISADE_TENANT_DELETED for a tenant this store dropped: a caller that read the tenant as
   * live just before its deletion must not make its file (or rows) again.
   */
  tenant(tenantId: string): Promise<TenantStore>;
  /** Removes every row of the tenant (and its file, on SQLite); `tenant` refuses it from then on. */
  dropTenant(tenantId: string): Promise<void>;
  /**
   * Telemetry housekeeping only the shard's owner can do, absent where there is none.
   * PostgreSQL: makes the monthly partitions `window` lacks; answers those that failed.
   */
  createTelemetryPartitions?(window: TelemetryWindow): Promise<readonly PartitionFailure[]>;
  /** PostgreSQL: drops the partitions past every plan's retention, holding no insert up. */
  dropTelemetryPartitions?(window: TelemetryWindow): Promise<void>;
  close(): Promise<void>;
}
