import type pg from 'pg';
import type { DeviceCaKeyRow, TenantDeviceCaWriter } from '../device-ca-types.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

interface CaKeyPgRow {
  ca_id: string;
  wrapped_key: Buffer;
  sealed_key: Buffer;
  created_at: Date;
}

/** Generated device CA keys of one tenant in a PostgreSQL shard (RLS-isolated table). */
export class PgTenantDeviceCas implements TenantDeviceCaWriter {
  readonly #db: Queryable;
  readonly #tenantId: string;
  constructor(db: Queryable, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async getCaKey(caId: string): Promise<DeviceCaKeyRow | undefined> {
    const result = await this.#db.query<CaKeyPgRow>(
      'SELECT ca_id, wrapped_key, sealed_key, created_at FROM device_ca_keys WHERE tenant_id = $1 AND ca_id = $2',
      [this.#tenantId, caId],
    );
    const row = result.rows[0];
    return row === undefined
      ? undefined
      : {
          caId: row.ca_id,
          wrappedKey: row.wrapped_key,
          sealedKey: row.sealed_key,
          createdAt: row.created_at.toISOString(),
        };
  }

  async listCaKeyIds(): Promise<string[]> {
    const result = await this.#db.query<{ ca_id: string }>(
      'SELECT ca_id FROM device_ca_keys WHERE tenant_id = $1 ORDER BY ca_id DESC',
      [this.#tenantId],
    );
    return result.rows.map((row) => row.ca_id);
  }

  async insertCaKey(row: DeviceCaKeyRow): Promise<void> {
    await this.#db.query(
      'INSERT INTO device_ca_keys (tenant_id, ca_id, wrapped_key, sealed_key, created_at) VALUES ($1, $2, $3, $4, $5)',
      [this.#tenantId, row.caId, row.wrappedKey, row.sealedKey, row.createdAt],
    );
  }

  async deleteCaKey(caId: string): Promise<boolean> {
    const result = await this.#db.query(
      'DELETE FROM device_ca_keys WHERE tenant_id = $1 AND ca_id = $2',
      [this.#tenantId, caId],
    );
    return (result.rowCount ?? 0) > 0;
  }
}
