import type { StatementSync } from 'node:sqlite';
import type { DeviceCaKeyRow, TenantDeviceCaWriter } from '../device-ca-types.ts';

type Prepare = (sql: string) => StatementSync;

interface CaKeySqlRow {
  ca_id: string;
  wrapped_key: Uint8Array;
  sealed_key: Uint8Array;
  created_at: string;
}

/** Generated device CA keys in one tenant's SQLite file. */
export class SqliteTenantDeviceCas implements TenantDeviceCaWriter {
  readonly #sql: Prepare;
  constructor(sql: Prepare) {
    this.#sql = sql;
  }

  async getCaKey(caId: string): Promise<DeviceCaKeyRow | undefined> {
    const row = this.#sql('SELECT * FROM device_ca_keys WHERE ca_id = ?').get(caId) as
      | CaKeySqlRow
      | undefined;
    return row === undefined
      ? undefined
      : {
          caId: row.ca_id,
          wrappedKey: row.wrapped_key,
          sealedKey: row.sealed_key,
          createdAt: row.created_at,
        };
  }

  async listCaKeyIds(): Promise<string[]> {
    return (
      this.#sql('SELECT ca_id FROM device_ca_keys ORDER BY ca_id DESC').all() as {
        ca_id: string;
      }[]
    ).map((row) => row.ca_id);
  }

  async insertCaKey(row: DeviceCaKeyRow): Promise<void> {
    this.#sql(
      'INSERT INTO device_ca_keys (ca_id, wrapped_key, sealed_key, created_at) VALUES (?, ?, ?, ?)',
    ).run(row.caId, row.wrappedKey, row.sealedKey, row.createdAt);
  }

  async deleteCaKey(caId: string): Promise<boolean> {
    return this.#sql('DELETE FROM device_ca_keys WHERE ca_id = ?').run(caId).changes > 0;
  }
}
