import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { caKeyOf } from '../ca-key.ts';
import {
  CREDENTIAL_COLUMNS,
  type CredentialDbRow,
  credentialParams,
  MATCH_TENANT_COLUMNS,
  type MatchDbRow,
  type TenantCaDbRow,
  toCredential,
  toMatch,
  toTenantCa,
} from '../device-credential-rows.ts';
import type {
  ControlPlaneDeviceIndex,
  DeviceCredentialMatch,
  DeviceCredentialRow,
  TenantCaRow,
} from '../device-types.ts';

const MATCH = `SELECT c.*, ${MATCH_TENANT_COLUMNS}
  FROM device_credentials c JOIN tenants t ON t.id = c.tenant_id WHERE c.lookup = ?`;

/** The device credential index in `DATA/platform.db`. */
export class SqliteDeviceIndex implements ControlPlaneDeviceIndex {
  readonly #db: DatabaseSync;
  /**
   * Prepared on first use (after migrations) and kept: a connected device's credential is
   * looked up again every auth cache TTL, and preparing the join cost more than running it.
   */
  #match: StatementSync | undefined;
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  async insertCredential(row: DeviceCredentialRow): Promise<boolean> {
    const result = this.#db
      .prepare(
        `INSERT INTO device_credentials (${CREDENTIAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (lookup) DO NOTHING`,
      )
      .run(...credentialParams(row));
    return result.changes > 0;
  }

  async findCredential(lookup: string): Promise<DeviceCredentialMatch | undefined> {
    this.#match ??= this.#db.prepare(MATCH);
    const row = this.#match.get(lookup) as MatchDbRow | undefined;
    return row === undefined ? undefined : toMatch(row);
  }

  async listCredentials(tenantId: string, deviceId: string): Promise<DeviceCredentialRow[]> {
    const rows = this.#db
      .prepare(
        `SELECT ${CREDENTIAL_COLUMNS} FROM device_credentials WHERE tenant_id = ? AND device_id = ? ORDER BY id`,
      )
      .all(tenantId, deviceId) as unknown as CredentialDbRow[];
    return rows.map(toCredential);
  }

  async deleteCredential(tenantId: string, deviceId: string, id: string): Promise<boolean> {
    return (
      this.#db
        .prepare('DELETE FROM device_credentials WHERE tenant_id = ? AND device_id = ? AND id = ?')
        .run(tenantId, deviceId, id).changes > 0
    );
  }

  async deleteDeviceCredentials(tenantId: string, deviceId: string): Promise<void> {
    this.#db
      .prepare('DELETE FROM device_credentials WHERE tenant_id = ? AND device_id = ?')
      .run(tenantId, deviceId);
  }

  async consumeProvisioningKey(lookup: string): Promise<DeviceCredentialMatch | undefined> {
    const match = await this.findCredential(lookup);
    if (match === undefined || match.credential.kind !== 'provisioning') return undefined;
    const deleted = this.#db
      .prepare("DELETE FROM device_credentials WHERE lookup = ? AND kind = 'provisioning'")
      .run(lookup);
    return deleted.changes > 0 ? match : undefined;
  }

  async insertCa(row: TenantCaRow): Promise<boolean> {
    const key = caKeyOf(row.pem);
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const others = this.#db
        .prepare('SELECT pem FROM tenant_cas WHERE tenant_id <> ?')
        .all(row.tenantId) as unknown as { pem: string }[];
      const inserted =
        !others.some((other) => caKeyOf(other.pem) === key) &&
        this.#db
          .prepare(
            'INSERT INTO tenant_cas (id, tenant_id, pem, fingerprint, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING',
          )
          .run(row.id, row.tenantId, row.pem, row.fingerprint, row.createdAt).changes > 0;
      this.#db.exec('COMMIT');
      return inserted;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  async listCas(tenantId: string): Promise<TenantCaRow[]> {
    const rows = this.#db
      .prepare('SELECT * FROM tenant_cas WHERE tenant_id = ? ORDER BY id')
      .all(tenantId) as unknown as TenantCaDbRow[];
    return rows.map(toTenantCa);
  }

  async deleteCa(tenantId: string, id: string): Promise<boolean> {
    return (
      this.#db.prepare('DELETE FROM tenant_cas WHERE tenant_id = ? AND id = ?').run(tenantId, id)
        .changes > 0
    );
  }
}
