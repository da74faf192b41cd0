import type pg from 'pg';
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
import { inPoolTransaction } from './pool-transaction.ts';

/** The device credential index in the PostgreSQL control plane. */
export class PgDeviceIndex implements ControlPlaneDeviceIndex {
  readonly #pool: pg.Pool;
  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async insertCredential(row: DeviceCredentialRow): Promise<boolean> {
    const result = await this.#pool.query(
      `INSERT INTO device_credentials (${CREDENTIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (lookup) DO NOTHING`,
      [...credentialParams(row)],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async findCredential(lookup: string): Promise<DeviceCredentialMatch | undefined> {
    const result = await this.#pool.query<MatchDbRow>(
      `SELECT c.*, ${MATCH_TENANT_COLUMNS} FROM device_credentials c JOIN tenants t ON t.id = c.tenant_id
       WHERE c.lookup = $1`,
      [lookup],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toMatch(row);
  }

  async listCredentials(tenantId: string, deviceId: string): Promise<DeviceCredentialRow[]> {
    const result = await this.#pool.query<CredentialDbRow>(
      `SELECT ${CREDENTIAL_COLUMNS} FROM device_credentials WHERE tenant_id = $1 AND device_id = $2 ORDER BY id`,
      [tenantId, deviceId],
    );
    return result.rows.map(toCredential);
  }

  async deleteCredential(tenantId: string, deviceId: string, id: string): Promise<boolean> {
    const result = await this.#pool.query(
      'DELETE FROM device_credentials WHERE tenant_id = $1 AND device_id = $2 AND id = $3',
      [tenantId, deviceId, id],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async deleteDeviceCredentials(tenantId: string, deviceId: string): Promise<void> {
    await this.#pool.query(
      'DELETE FROM device_credentials WHERE tenant_id = $1 AND device_id = $2',
      [tenantId, deviceId],
    );
  }

  async consumeProvisioningKey(lookup: string): Promise<DeviceCredentialMatch | undefined> {
    const result = await this.#pool.query<MatchDbRow>(
      `WITH gone AS (DELETE FROM device_credentials WHERE lookup = $1 AND kind = 'provisioning' RETURNING *)
       SELECT gone.*, ${MATCH_TENANT_COLUMNS} FROM gone JOIN tenants t ON t.id = gone.tenant_id`,
      [lookup],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toMatch(row);
  }

  async insertCa(row: TenantCaRow): Promise<boolean> {
    const key = caKeyOf(row.pem);
    return inPoolTransaction(this.#pool, async (client) => {
      // Self-conflicting, so two tenants adding the same key one moment apart are serialized;
      // reads go on.
      await client.query('LOCK TABLE tenant_cas IN SHARE ROW EXCLUSIVE MODE');
      const others = await client.query<{ pem: string }>(
        'SELECT pem FROM tenant_cas WHERE tenant_id <> $1',
        [row.tenantId],
      );
      const inserted =
        !others.rows.some((other) => caKeyOf(other.pem) === key) &&
        ((
          await client.query(
            `INSERT INTO tenant_cas (id, tenant_id, pem, fingerprint, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (fingerprint) DO NOTHING`,
            [row.id, row.tenantId, row.pem, row.fingerprint, row.createdAt],
          )
        ).rowCount ?? 0) > 0;
      return inserted;
    });
  }

  async listCas(tenantId: string): Promise<TenantCaRow[]> {
    const result = await this.#pool.query<TenantCaDbRow>(
      'SELECT * FROM tenant_cas WHERE tenant_id = $1 ORDER BY id',
      [tenantId],
    );
    return result.rows.map(toTenantCa);
  }

  async deleteCa(tenantId: string, id: string): Promise<boolean> {
    const result = await this.#pool.query(
      'DELETE FROM tenant_cas WHERE tenant_id = $1 AND id = $2',
      [tenantId, id],
    );
    return (result.rowCount ?? 0) > 0;
  }
}
