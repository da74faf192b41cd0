import type pg from 'pg';
import type { TenantStatus } from '../../tenancy/index.ts';
import { caKeyOf } from '../ca-key.ts';
import type {
  ControlPlaneDeviceIndex,
  DeviceCredentialMatch,
  DeviceCredentialRow,
  TenantCaRow,
} from '../device-types.ts';
import { inPoolTransaction } from './pool-transaction.ts';

interface CredentialPgRow {
  id: string;
  tenant_id: string;
  device_id: string | null;
  kind: DeviceCredentialRow['kind'];
  lookup: string;
  secret_hash: string | null;
  client_id: string | null;
  created_at: Date;
}

interface MatchPgRow extends CredentialPgRow {
  t_slug: string;
  t_name: string;
  t_plan: string;
  t_status: TenantStatus;
  t_shard: string;
  t_created_at: Date;
  t_updated_at: Date;
}

const COLUMNS = 'id, tenant_id, device_id, kind, lookup, secret_hash, client_id, created_at';
const TENANT = `t.slug AS t_slug, t.name AS t_name, t.plan AS t_plan, t.status AS t_status,
  t.shard AS t_shard, t.created_at AS t_created_at, t.updated_at AS t_updated_at`;

function toCredential(row: CredentialPgRow): DeviceCredentialRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    deviceId: row.device_id,
    kind: row.kind,
    lookup: row.lookup,
    secretHash: row.secret_hash,
    clientId: row.client_id,
    createdAt: row.created_at.toISOString(),
  };
}

function toMatch(row: MatchPgRow): DeviceCredentialMatch {
  return {
    credential: toCredential(row),
    tenant: {
      id: row.tenant_id,
      slug: row.t_slug,
      name: row.t_name,
      plan: row.t_plan,
      status: row.t_status,
      shard: row.t_shard,
      createdAt: row.t_created_at.toISOString(),
      updatedAt: row.t_updated_at.toISOString(),
    },
  };
}

/** The device credential index in the PostgreSQL control plane. */
export class PgDeviceIndex implements ControlPlaneDeviceIndex {
  readonly #pool: pg.Pool;
  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async insertCredential(row: DeviceCredentialRow): Promise<boolean> {
    const result = await this.#pool.query(
      `INSERT INTO device_credentials (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (lookup) DO NOTHING`,
      [
        row.id,
        row.tenantId,
        row.deviceId,
        row.kind,
        row.lookup,
        row.secretHash,
        row.clientId,
        row.createdAt,
      ],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async findCredential(lookup: string): Promise<DeviceCredentialMatch | undefined> {
    const result = await this.#pool.query<MatchPgRow>(
      `SELECT c.*, ${TENANT} FROM device_credentials c JOIN tenants t ON t.id = c.tenant_id
       WHERE c.lookup = $1`,
      [lookup],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toMatch(row);
  }

  async listCredentials(tenantId: string, deviceId: string): Promise<DeviceCredentialRow[]> {
    const result = await this.#pool.query<CredentialPgRow>(
      `SELECT ${COLUMNS} FROM device_credentials WHERE tenant_id = $1 AND device_id = $2 ORDER BY id`,
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
    const result = await this.#pool.query<MatchPgRow>(
      `WITH gone AS (DELETE FROM device_credentials WHERE lookup = $1 AND kind = 'provisioning' RETURNING *)
       SELECT gone.*, ${TENANT} FROM gone JOIN tenants t ON t.id = gone.tenant_id`,
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
    const result = await this.#pool.query<{
      id: string;
      tenant_id: string;
      pem: string;
      fingerprint: string;
      created_at: Date;
    }>('SELECT * FROM tenant_cas WHERE tenant_id = $1 ORDER BY id', [tenantId]);
    return result.rows.map((r) => ({
      id: r.id,
      tenantId: r.tenant_id,
      pem: r.pem,
      fingerprint: r.fingerprint,
      createdAt: r.created_at.toISOString(),
    }));
  }

  async deleteCa(tenantId: string, id: string): Promise<boolean> {
    const result = await this.#pool.query(
      'DELETE FROM tenant_cas WHERE tenant_id = $1 AND id = $2',
      [tenantId, id],
    );
    return (result.rowCount ?? 0) > 0;
  }
}
