import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import {
  type DataKeyDbRow,
  type KekDbRow,
  type KeyJobDbRow,
  keyJobParams,
  toDataKey,
  toKek,
  toKeyJob,
} from '../key-rows.ts';
import type {
  ControlPlaneKeyStore,
  DataKeyRow,
  KeyJobRow,
  PendingKeyJob,
  SealedFields,
  StaleRecordRef,
  TenantKekRow,
  TenantKeyWriter,
} from '../key-types.ts';

type Prepare = (sql: string) => StatementSync;

/** Serialized columns of a record's encrypted fields: `sealed`, `blind`, `key_version`. */
export function sealedColumns(sealed: SealedFields | undefined): SQLInputValue[] {
  if (sealed === undefined) return [null, null, null];
  return [sealed.ciphertext, JSON.stringify(sealed.index), sealed.keyVersion];
}

/**
 * Sealed fields as a row holds them. The blind indexes are parsed when first asked for: only
 * writes that keep them need them, and a read would parse them for nothing.
 */
class StoredSealedFields implements SealedFields {
  readonly keyVersion: number;
  readonly ciphertext: string;
  readonly #blind: string | null;
  #index: Readonly<Record<string, string>> | undefined;

  constructor(keyVersion: number, ciphertext: string, blind: string | null) {
    this.keyVersion = keyVersion;
    this.ciphertext = ciphertext;
    this.#blind = blind;
  }

  get index(): Readonly<Record<string, string>> {
    this.#index ??= JSON.parse(this.#blind ?? '{}') as Record<string, string>;
    return this.#index;
  }
}

/** The inverse of {@link sealedColumns}. */
export function sealedFromColumns(
  sealed: string | null,
  blind: string | null,
  keyVersion: number | null,
): SealedFields | undefined {
  if (sealed === null || keyVersion === null) return undefined;
  return new StoredSealedFields(keyVersion, sealed, blind);
}

/** Data keys and re-encryption jobs in one tenant's SQLite file. */
export class SqliteTenantKeys implements TenantKeyWriter {
  readonly #sql: Prepare;

  constructor(prepare: Prepare) {
    this.#sql = prepare;
  }

  async listDataKeys(): Promise<DataKeyRow[]> {
    const rows = this.#sql('SELECT * FROM data_keys ORDER BY key_id, version').all();
    return (rows as unknown as DataKeyDbRow[]).map(toDataKey);
  }

  async getKeyJob(id: string): Promise<KeyJobRow | undefined> {
    const row = this.#sql('SELECT * FROM key_jobs WHERE id = ?').get(id) as KeyJobDbRow | undefined;
    return row === undefined ? undefined : toKeyJob(row);
  }

  async listKeyJobs(): Promise<KeyJobRow[]> {
    const rows = this.#sql('SELECT * FROM key_jobs ORDER BY id').all();
    return (rows as unknown as KeyJobDbRow[]).map(toKeyJob);
  }

  async recordsPerKeyVersion(): Promise<Map<number, number>> {
    const rows = this.#sql(
      'SELECT key_version, count(*) AS n FROM records WHERE key_version IS NOT NULL GROUP BY key_version',
    ).all() as unknown as { key_version: number; n: number }[];
    return new Map(rows.map((r) => [r.key_version, r.n]));
  }

  async recordsBelowKeyVersion(version: number, limit: number): Promise<StaleRecordRef[]> {
    const rows = this.#sql(
      `SELECT collection, id, version, key_version FROM records
       WHERE key_version IS NOT NULL AND key_version < ? ORDER BY key_version, collection, id LIMIT ?`,
    ).all(version, limit) as unknown as {
      collection: string;
      id: string;
      version: number;
      key_version: number;
    }[];
    return rows.map((r) => ({
      collection: r.collection,
      id: r.id,
      version: r.version,
      keyVersion: r.key_version,
    }));
  }

  async insertDataKey(row: DataKeyRow): Promise<void> {
    this.#sql(
      `INSERT INTO data_keys (key_id, version, kek_version, wrapped, sealed_secret, state, encryptions, created_at, retired_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      row.keyId,
      row.version,
      row.kekVersion,
      row.wrapped,
      row.sealedSecret,
      row.state,
      row.encryptions,
      row.createdAt,
      row.retiredAt,
    );
  }

  async holdActiveDataKey(keyId: string, version: number): Promise<boolean> {
    const row = this.#sql('SELECT state FROM data_keys WHERE key_id = ? AND version = ?').get(
      keyId,
      version,
    ) as { state: string } | undefined;
    return row?.state === 'active';
  }

  async reserveEncryptions(
    keyId: string,
    version: number,
    count: number,
    limit: number,
  ): Promise<number | undefined> {
    const row = this.#sql(
      `UPDATE data_keys SET encryptions = encryptions + ?
       WHERE key_id = ? AND version = ? AND encryptions + ? <= ? RETURNING encryptions`,
    ).get(count, keyId, version, count, limit) as { encryptions: number } | undefined;
    return row?.encryptions;
  }

  async retireDataKey(keyId: string, version: number, at: string): Promise<boolean> {
    const result = this.#sql(
      `UPDATE data_keys SET state = 'retired', wrapped = NULL, sealed_secret = NULL, retired_at = ?
       WHERE key_id = ? AND version = ? AND NOT EXISTS (SELECT 1 FROM records WHERE key_version = ?)`,
    ).run(at, keyId, version, version);
    return result.changes > 0;
  }

  async putKeyJob(row: KeyJobRow): Promise<void> {
    this.#sql(
      `INSERT INTO key_jobs (id, key_id, target_version, state, processed, created_at, updated_at, finished_at, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, processed = excluded.processed,
         updated_at = excluded.updated_at, finished_at = excluded.finished_at, error = excluded.error`,
    ).run(...keyJobParams(row));
  }

  async resealRecord(
    collection: string,
    id: string,
    fromKeyVersion: number,
    sealed: SealedFields,
  ): Promise<boolean> {
    const result = this.#sql(
      `UPDATE records SET sealed = ?, blind = ?, key_version = ?
       WHERE collection = ? AND id = ? AND key_version = ?`,
    ).run(...sealedColumns(sealed), collection, id, fromKeyVersion);
    return result.changes > 0;
  }
}

/** Tenant KEKs and the pending-job registry in `DATA/platform.db`. */
export class SqliteControlPlaneKeys implements ControlPlaneKeyStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    // Deleted KEK rows are overwritten with zeros, not left in free pages (crypto-shredding).
    db.exec('PRAGMA secure_delete = ON');
  }

  async insertKek(row: TenantKekRow): Promise<boolean> {
    const result = this.#db
      .prepare(
        `INSERT INTO tenant_keks (tenant_id, version, public_key, sealed_seed, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id, version) DO NOTHING`,
      )
      .run(row.tenantId, row.version, row.publicKey, row.sealedSeed, row.createdAt);
    return result.changes > 0;
  }

  async listKeks(tenantId: string): Promise<TenantKekRow[]> {
    const rows = this.#db
      .prepare('SELECT * FROM tenant_keks WHERE tenant_id = ? ORDER BY version')
      .all(tenantId);
    return (rows as unknown as KekDbRow[]).map(toKek);
  }

  async listAllKeks(): Promise<TenantKekRow[]> {
    const rows = this.#db.prepare('SELECT * FROM tenant_keks ORDER BY tenant_id, version').all();
    return (rows as unknown as KekDbRow[]).map(toKek);
  }

  async newestKek(): Promise<TenantKekRow | undefined> {
    const row = this.#db
      .prepare('SELECT * FROM tenant_keks ORDER BY created_at DESC, rowid DESC LIMIT 1')
      .get() as KekDbRow | undefined;
    return row === undefined ? undefined : toKek(row);
  }

  async replaceSealedSeed(tenantId: string, version: number, sealedSeed: Uint8Array) {
    this.#db
      .prepare('UPDATE tenant_keks SET sealed_seed = ? WHERE tenant_id = ? AND version = ?')
      .run(sealedSeed, tenantId, version);
  }

  async deleteKeks(tenantId: string): Promise<void> {
    this.#db.prepare('DELETE FROM tenant_keks WHERE tenant_id = ?').run(tenantId);
    // The WAL still holds the pages as they were, sealed seeds included, until a checkpoint
    // has copied every frame and emptied it; another connection reading can hold that off
    // past the busy timeout.
    const { busy } = this.#db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number };
    if (busy !== 0)
      throw new Error(
        'the deleted tenant keys are still in platform.db-wal: another connection kept the checkpoint from emptying it; retry the deletion',
      );
  }

  async addPendingJob(job: PendingKeyJob): Promise<void> {
    this.#db
      .prepare('INSERT OR IGNORE INTO pending_key_jobs (tenant_id, job_id) VALUES (?, ?)')
      .run(job.tenantId, job.jobId);
  }

  async removePendingJob(job: PendingKeyJob): Promise<void> {
    this.#db
      .prepare('DELETE FROM pending_key_jobs WHERE tenant_id = ? AND job_id = ?')
      .run(job.tenantId, job.jobId);
  }

  async listPendingJobs(): Promise<PendingKeyJob[]> {
    const rows = this.#db.prepare('SELECT tenant_id, job_id FROM pending_key_jobs').all();
    return (rows as unknown as { tenant_id: string; job_id: string }[]).map((r) => ({
      tenantId: r.tenant_id,
      jobId: r.job_id,
    }));
  }
}
