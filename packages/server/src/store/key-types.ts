/**
 * Storage of the key hierarchy. Tenant KEKs (X-Wing public key + KMS-sealed seed) live in the
 * control plane, so deleting them there shreds every copy of a tenant's store at once; the
 * tenant's wrapped data keys and re-encryption jobs live in the tenant's own store, next to
 * the records they protect. Nothing here is plaintext key material.
 */

/** A tenant KEK as stored in the control plane. */
export interface TenantKekRow {
  readonly tenantId: string;
  readonly version: number;
  readonly publicKey: Uint8Array;
  readonly sealedSeed: Uint8Array;
  readonly createdAt: string;
}

/** A tenant that has a re-encryption job which may still be running. */
export interface PendingKeyJob {
  readonly tenantId: string;
  readonly jobId: string;
}

/** The control plane's part of the key hierarchy. */
export interface ControlPlaneKeyStore {
  /** Stores the KEK; false, storing nothing, when the tenant already has that version. */
  insertKek(row: TenantKekRow): Promise<boolean>;
  /** The tenant's KEK versions, ascending. */
  listKeks(tenantId: string): Promise<TenantKekRow[]>;
  /** Every tenant's KEKs, for master key rotation. */
  listAllKeks(): Promise<TenantKekRow[]>;
  /** The KEK created last, of any tenant: which master key seals now (none on a new platform). */
  newestKek(): Promise<TenantKekRow | undefined>;
  replaceSealedSeed(tenantId: string, version: number, sealedSeed: Uint8Array): Promise<void>;
  /** Crypto-shredding: removes every KEK of the tenant. */
  deleteKeks(tenantId: string): Promise<void>;
  addPendingJob(job: PendingKeyJob): Promise<void>;
  removePendingJob(job: PendingKeyJob): Promise<void>;
  listPendingJobs(): Promise<PendingKeyJob[]>;
}

/** Whether a data key version may still encrypt or decrypt. */
export type DataKeyState = 'active' | 'retired';

/** A data key wrapped to one of the tenant's KEKs; `wrapped` is null once retired. */
export interface DataKeyRow {
  readonly keyId: string;
  readonly version: number;
  readonly kekVersion: number;
  readonly wrapped: Uint8Array | null;
  /** For the blind-index key: the 32 index-key bytes, encrypted under this data key. */
  readonly sealedSecret: Uint8Array | null;
  readonly state: DataKeyState;
  /**
   * Encryptions reserved under this version (see `reserveEncryptions`): never fewer than the
   * encryptions made under it whose ciphertext was committed.
   */
  readonly encryptions: number;
  readonly createdAt: string;
  readonly retiredAt: string | null;
}

export type KeyJobState = 'running' | 'done' | 'superseded' | 'failed';

/** A background re-encryption of a tenant's records to one data key version. */
export interface KeyJobRow {
  readonly id: string;
  readonly keyId: string;
  readonly targetVersion: number;
  readonly state: KeyJobState;
  /** Records moved to the target version so far. */
  readonly processed: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
  /** Why the job failed (a code, never data). */
  readonly error: string | null;
}

/** A record that still has fields under an older data key version. */
export interface StaleRecordRef {
  readonly collection: string;
  readonly id: string;
  readonly version: number;
  readonly keyVersion: number;
}

/** Key reads of one tenant's store. */
export interface TenantKeyReader {
  listDataKeys(): Promise<DataKeyRow[]>;
  getKeyJob(id: string): Promise<KeyJobRow | undefined>;
  listKeyJobs(): Promise<KeyJobRow[]>;
  /** Records per data key version in use (records without encrypted fields are not counted). */
  recordsPerKeyVersion(): Promise<Map<number, number>>;
  /** Up to `limit` records whose encrypted fields use a version below `version`. */
  recordsBelowKeyVersion(version: number, limit: number): Promise<StaleRecordRef[]>;
}

/** Key writes, inside the tenant's transaction. */
export interface TenantKeyWriter extends TenantKeyReader {
  insertDataKey(row: DataKeyRow): Promise<void>;
  /**
   * True while the version is active. It then stays active until this transaction ends (on
   * PostgreSQL a key-share lock on it, which the retirement waits for and a reservation does
   * not), so records written under it here cannot outlive it.
   */
  holdActiveDataKey(keyId: string, version: number): Promise<boolean>;
  /**
   * Adds `count` to the version's encryption count unless that would pass `limit`: the new
   * count, or undefined (nothing changed). Concurrent reservations of any process add up; the
   * reservation commits or rolls back with the transaction.
   */
  reserveEncryptions(
    keyId: string,
    version: number,
    count: number,
    limit: number,
  ): Promise<number | undefined>;
  /**
   * Marks the version retired and erases its wrapped key, unless a record still uses it
   * (false, nothing changed). Waits for transactions holding the version.
   */
  retireDataKey(keyId: string, version: number, at: string): Promise<boolean>;
  putKeyJob(row: KeyJobRow): Promise<void>;
  /**
   * Replaces a record's encrypted fields (re-encryption) without changing its data or version;
   * false when the record is gone or no longer at `fromKeyVersion`.
   */
  resealRecord(
    collection: string,
    id: string,
    fromKeyVersion: number,
    sealed: SealedFields,
  ): Promise<boolean>;
}

/** A record's encrypted fields as stored: one ciphertext and blind indexes, never plaintext. */
export interface SealedFields {
  /** The data key version of the ciphertext. */
  readonly keyVersion: number;
  /**
   * base64 of one `@palisade/crypto` field ciphertext (format v1) holding every encrypted
   * field of the record as a JSON object.
   */
  readonly ciphertext: string;
  /** Field → blind index of the value, for equality filters (scalars only). */
  readonly index: Readonly<Record<string, string>>;
}
