import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { TenantStatus } from '../../tenancy/index.ts';
import { caKeyOf } from '../ca-key.ts';
import type {
  ControlPlaneDeviceIndex,
  DeviceCredentialMatch,
  DeviceCredentialRow,
  TenantCaRow,
} from '../device-types.ts';

interface CredentialSqlRow {
  id: string;
  tenant_id: string;
  device_id: string | null;
  kind: DeviceCredentialRow['kind'];
  lookup: string;
  secret_hash: string | null;
  client_id: string | null;
  created_at: string;
}

interface MatchSqlRow extends CredentialSqlRow {
  t_slug: string;
  t_name: string;
  t_plan: string;
  t_status: TenantStatus;
  t_shard: string;
  t_created_at: string;
  t_updated_at: string;
}

const COLUMNS = 'id, tenant_id, device_id, kind, lookup, secret_hash, client_id, created_at';
const MATCH = `SELECT c.*, t.slug AS t_slug, t.name AS t_name, t.plan AS t_plan, t.status AS t_status,
  t.shard AS t_shard, t.created_at AS t_created_at, t.updated_at AS t_updated_at
  FROM device_credentials c JOIN tenants t ON t.id = c.tenant_id WHERE c.lookup = ?`;

function toCredential(row: CredentialSqlRow): DeviceCredentialRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    deviceId: row.device_id,
    kind: row.kind,
    lookup: row.lookup,
    secretHash: row.secret_hash,
    clientId: row.client_id,
    createdAt: row.created_at,
  };
}

function toMatch(row: MatchSqlRow): DeviceCredentialMatch {
  return {
    credential: toCredential(row),
    tenant: {
      id: row.tenant_id,
      slug: row.t_slug,
      name: row.t_name,
      plan: row.t_plan,
      status: row.t_status,
      shard: row.t_shard,
      createdAt: row.t_created_at,
      updatedAt: row.t_updated_at,
    },
  };
}

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
        `INSERT INTO device_credentials (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (lookup) DO NOTHING`,
      )
      .run(
        row.id,
        row.tenantId,
        row.deviceId,
        row.kind,
        row.lookup,
        row.secretHash,
        row.clientId,
        row.createdAt,
      );
    return result.changes > 0;
  }

  async findCredential(lookup: string): Promise<DeviceCredentialMatch | undefined> {
    this.#match ??= this.#db.prepare(MATCH);
    const row = this.#match.get(lookup) as MatchSqlRow | undefined;
    return row === undefined ? undefined : toMatch(row);
  }

  async listCredentials(tenantId: string, deviceId: string): Promise<DeviceCredentialRow[]> {
    const rows = this.#db
      .prepare(
        `SELECT ${COLUMNS} FROM device_credentials WHERE tenant_id = ? AND device_id = ? ORDER BY id`,
      )
      .all(tenantId, deviceId) as unknown as CredentialSqlRow[];
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
      .all(tenantId) as unknown as {
      id: string;
      tenant_id: string;
      pem: string;
      fingerprint: string;
      created_at: string;
    }[];
    return rows.map((r) => ({
      id: r.id,
      tenantId: r.tenant_id,
      pem: r.pem,
      fingerprint: r.fingerprint,
      createdAt: r.created_at,
    }));
  }

  async deleteCa(tenantId: string, id: string): Promise<boolean> {
    return (
      this.#db.prepare('DELETE FROM tenant_cas WHERE tenant_id = ? AND id = ?').run(tenantId, id)
        .changes > 0
    );
  }
}
