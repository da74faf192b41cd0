import type pg from 'pg';
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

type Queryable = Pick<pg.PoolClient, 'query'>;

const DATA_KEY_COLUMNS =
  'key_id, version, kek_version, wrapped, sealed_secret, state, encryptions::float8 AS encryptions, created_at, retired_at';
const JOB_COLUMNS =
  'id, key_id, target_version, state, processed::float8 AS processed, created_at, updated_at, finished_at, error';

/** Parameters for the `sealed`, `blind`, `key_version` columns of a record. */
export function sealedParams(sealed: SealedFields | undefined): unknown[] {
  if (sealed === undefined) return [null, null, null];
  return [JSON.stringify(sealed.ciphertext), JSON.stringify(sealed.index), sealed.keyVersion];
}

/** The inverse of {@link sealedParams}, from the jsonb columns as `pg` parses them. */
export function sealedFromRow(row: {
  sealed: string | null;
  blind: Record<string, string> | null;
  key_version: number | null;
}): SealedFields | undefined {
  if (row.sealed === null || row.key_version === null) return undefined;
  return { keyVersion: row.key_version, ciphertext: row.sealed, index: row.blind ?? {} };
}

/** Data keys and re-encryption jobs of one tenant, on a client inside its transaction. */
export class PgTenantKeys implements TenantKeyWriter {
  readonly #db: Queryable;
  readonly #tenantId: string;
  /** Versions this transaction holds (key-share-locked) already. */
  readonly #held = new Set<string>();

  constructor(db: Queryable, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async listDataKeys(): Promise<DataKeyRow[]> {
    const result = await this.#db.query<DataKeyDbRow>(
      `SELECT ${DATA_KEY_COLUMNS} FROM data_keys WHERE tenant_id = $1 ORDER BY key_id, version`,
      [this.#tenantId],
    );
    return result.rows.map(toDataKey);
  }

  async getKeyJob(id: string): Promise<KeyJobRow | undefined> {
    const result = await this.#db.query<KeyJobDbRow>(
      `SELECT ${JOB_COLUMNS} FROM key_jobs WHERE tenant_id = $1 AND id = $2`,
      [this.#tenantId, id],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toKeyJob(row);
  }

  async listKeyJobs(): Promise<KeyJobRow[]> {
    const result = await this.#db.query<KeyJobDbRow>(
      `SELECT ${JOB_COLUMNS} FROM key_jobs WHERE tenant_id = $1 ORDER BY id`,
      [this.#tenantId],
    );
    return result.rows.map(toKeyJob);
  }

  async recordsPerKeyVersion(): Promise<Map<number, number>> {
    const result = await this.#db.query<{ key_version: number; n: number }>(
      `SELECT key_version, count(*)::float8 AS n FROM records
       WHERE tenant_id = $1 AND key_version IS NOT NULL GROUP BY key_version`,
      [this.#tenantId],
    );
    return new Map(result.rows.map((r) => [r.key_version, r.n]));
  }

  async recordsBelowKeyVersion(version: number, limit: number): Promise<StaleRecordRef[]> {
    const result = await this.#db.query<{
      collection: string;
      id: string;
      version: number;
      key_version: number;
    }>(
      `SELECT collection, id, version, key_version FROM records
       WHERE tenant_id = $1 AND key_version IS NOT NULL AND key_version < $2
       ORDER BY key_version, collection, id LIMIT $3`,
      [this.#tenantId, version, limit],
    );
    return result.rows.map((r) => ({
      collection: r.collection,
      id: r.id,
      version: r.version,
      keyVersion: r.key_version,
    }));
  }

  async insertDataKey(row: DataKeyRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO data_keys (tenant_id, key_id, version, kek_version, wrapped, sealed_secret, state, encryptions, created_at, retired_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        this.#tenantId,
        row.keyId,
        row.version,
        row.kekVersion,
        row.wrapped === null ? null : Buffer.from(row.wrapped),
        row.sealedSecret === null ? null : Buffer.from(row.sealedSecret),
        row.state,
        row.encryptions,
        row.createdAt,
        row.retiredAt,
      ],
    );
  }

  async holdActiveDataKey(keyId: string, version: number): Promise<boolean> {
    const id = `${keyId}/${version}`;
    if (this.#held.has(id)) return true;
    const result = await this.#db.query<{ state: string }>(
      'SELECT state FROM data_keys WHERE tenant_id = $1 AND key_id = $2 AND version = $3 FOR KEY SHARE',
      [this.#tenantId, keyId, version],
    );
    const active = result.rows[0]?.state === 'active';
    if (active) this.#held.add(id);
    return active;
  }

  async reserveEncryptions(
    keyId: string,
    version: number,
    count: number,
    limit: number,
  ): Promise<number | undefined> {
    // Changes no key column: it neither waits for nor blocks the writers' key-share holds.
    const result = await this.#db.query<{ encryptions: number }>(
      `UPDATE data_keys SET encryptions = encryptions + $4
       WHERE tenant_id = $1 AND key_id = $2 AND version = $3 AND encryptions + $4 <= $5
       RETURNING encryptions::float8 AS encryptions`,
      [this.#tenantId, keyId, version, count, limit],
    );
    return result.rows[0]?.encryptions;
  }

  async retireDataKey(keyId: string, version: number, at: string): Promise<boolean> {
    // Waits for the writers holding the version: the statement below then sees their records.
    await this.#db.query(
      'SELECT 1 FROM data_keys WHERE tenant_id = $1 AND key_id = $2 AND version = $3 FOR UPDATE',
      [this.#tenantId, keyId, version],
    );
    const result = await this.#db.query(
      `UPDATE data_keys SET state = 'retired', wrapped = NULL, sealed_secret = NULL, retired_at = $1
       WHERE tenant_id = $2 AND key_id = $3 AND version = $4
         AND NOT EXISTS (SELECT 1 FROM records WHERE tenant_id = $2 AND key_version = $4)`,
      [at, this.#tenantId, keyId, version],
    );
    return result.rowCount === 1;
  }

  async putKeyJob(row: KeyJobRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO key_jobs (tenant_id, id, key_id, target_version, state, processed, created_at, updated_at, finished_at, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (tenant_id, id) DO UPDATE SET state = excluded.state, processed = excluded.processed,
         updated_at = excluded.updated_at, finished_at = excluded.finished_at, error = excluded.error`,
      [this.#tenantId, ...keyJobParams(row)],
    );
  }

  async resealRecord(
    collection: string,
    id: string,
    fromKeyVersion: number,
    sealed: SealedFields,
  ): Promise<boolean> {
    const result = await this.#db.query(
      `UPDATE records SET sealed = $1, blind = $2, key_version = $3
       WHERE tenant_id = $4 AND collection = $5 AND id = $6 AND key_version = $7`,
      [...sealedParams(sealed), this.#tenantId, collection, id, fromKeyVersion],
    );
    return (result.rowCount ?? 0) > 0;
  }
}

/** Tenant KEKs and the pending-job registry in the PostgreSQL control plane. */
export class PgControlPlaneKeys implements ControlPlaneKeyStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async insertKek(row: TenantKekRow): Promise<boolean> {
    const result = await this.#pool.query(
      `INSERT INTO tenant_keks (tenant_id, version, public_key, sealed_seed, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant_id, version) DO NOTHING`,
      [
        row.tenantId,
        row.version,
        Buffer.from(row.publicKey),
        Buffer.from(row.sealedSeed),
        row.createdAt,
      ],
    );
    return result.rowCount === 1;
  }

  async listKeks(tenantId: string): Promise<TenantKekRow[]> {
    const result = await this.#pool.query<KekDbRow>(
      'SELECT * FROM tenant_keks WHERE tenant_id = $1 ORDER BY version',
      [tenantId],
    );
    return result.rows.map(toKek);
  }

  async listAllKeks(): Promise<TenantKekRow[]> {
    const result = await this.#pool.query<KekDbRow>(
      'SELECT * FROM tenant_keks ORDER BY tenant_id, version',
    );
    return result.rows.map(toKek);
  }

  async newestKek(): Promise<TenantKekRow | undefined> {
    const result = await this.#pool.query<KekDbRow>(
      'SELECT * FROM tenant_keks ORDER BY created_at DESC LIMIT 1',
    );
    return result.rows[0] === undefined ? undefined : toKek(result.rows[0]);
  }

  async replaceSealedSeed(tenantId: string, version: number, sealedSeed: Uint8Array) {
    await this.#pool.query(
      'UPDATE tenant_keks SET sealed_seed = $1 WHERE tenant_id = $2 AND version = $3',
      [Buffer.from(sealedSeed), tenantId, version],
    );
  }

  async deleteKeks(tenantId: string): Promise<void> {
    await this.#pool.query('DELETE FROM tenant_keks WHERE tenant_id = $1', [tenantId]);
    // Rewrites the (small) table so the deleted sealed seeds leave its data files.
    await this.#pool.query('VACUUM FULL tenant_keks');
  }

  async addPendingJob(job: PendingKeyJob): Promise<void> {
    await this.#pool.query(
      'INSERT INTO pending_key_jobs (tenant_id, job_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [job.tenantId, job.jobId],
    );
  }

  async removePendingJob(job: PendingKeyJob): Promise<void> {
    await this.#pool.query('DELETE FROM pending_key_jobs WHERE tenant_id = $1 AND job_id = $2', [
      job.tenantId,
      job.jobId,
    ]);
  }

  async listPendingJobs(): Promise<PendingKeyJob[]> {
    const result = await this.#pool.query<{ tenant_id: string; job_id: string }>(
      'SELECT tenant_id, job_id FROM pending_key_jobs',
    );
    return result.rows.map((r) => ({ tenantId: r.tenant_id, jobId: r.job_id }));
  }
}
