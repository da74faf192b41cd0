import { dirname, join } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { PalisadeError } from '../../errors/index.ts';
import type { Tenant, TenantStatus } from '../../tenancy/index.ts';
import {
  API_KEY_COLUMNS,
  type ApiKeyDbRow,
  apiKeyParams,
  KEY_MATCH_COLUMNS,
  type KeyMatchDbRow,
  toApiKey,
  toKeyCredential,
} from '../api-key-rows.ts';
import {
  ADMIN_TOKEN_KEY,
  CREATED_TENANT,
  TENANT_COLUMNS,
  TENANT_CONTROL_TABLES,
  type TenantDbRow,
  tenantParams,
  toTenant,
} from '../tenant-rows.ts';
import type {
  ApiKeyRow,
  ControlPlaneStore,
  PageQuery,
  ShardRow,
  StoredCredential,
} from '../types.ts';
import { CONTROL_PLANE_MIGRATIONS } from './control-plane-migrations.ts';
import { SqliteCorsOrigins } from './sqlite-cors-store.ts';
import { migrateSqlite, openSqlite } from './sqlite-database.ts';
import { SqliteDeviceIndex } from './sqlite-device-index.ts';
import { SqliteDpopProofs } from './sqlite-dpop-proof-store.ts';
import { SqliteIdentityStore } from './sqlite-identity-store.ts';
import { SqliteControlPlaneKeys } from './sqlite-key-store.ts';

/** The embedded control plane: `DATA/platform.db`, and the DPoP proofs in `DATA/dpop-proofs.db`. */
export class SqliteControlPlaneStore implements ControlPlaneStore {
  readonly kind = 'sqlite';
  readonly keys: SqliteControlPlaneKeys;
  readonly devices: SqliteDeviceIndex;
  readonly identity: SqliteIdentityStore;
  readonly cors: SqliteCorsOrigins;
  readonly dpopProofs: SqliteDpopProofs;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  constructor(path: string) {
    this.#db = openSqlite(path);
    this.keys = new SqliteControlPlaneKeys(this.#db);
    this.devices = new SqliteDeviceIndex(this.#db);
    this.identity = new SqliteIdentityStore(this.#db);
    this.cors = new SqliteCorsOrigins(this.#db);
    this.dpopProofs = new SqliteDpopProofs(join(dirname(path), 'dpop-proofs.db'));
  }

  #sql(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  async migrate(): Promise<void> {
    migrateSqlite(this.#db, CONTROL_PLANE_MIGRATIONS);
  }

  async ping(): Promise<void> {
    this.#sql('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.dpopProofs.close();
    if (this.#db.isOpen) this.#db.close();
  }

  async getAdminTokenHash(): Promise<string | undefined> {
    const row = this.#sql('SELECT value FROM platform_settings WHERE key = ?').get(
      ADMIN_TOKEN_KEY,
    ) as { value: string } | undefined;
    return row?.value;
  }

  async setAdminTokenHash(hash: string): Promise<void> {
    this.#sql(
      'INSERT INTO platform_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ).run(ADMIN_TOKEN_KEY, hash);
  }

  async registerShards(shards: readonly ShardRow[]): Promise<void> {
    const insert = this.#sql(
      'INSERT INTO shards (id, location) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET location = excluded.location',
    );
    for (const shard of shards) insert.run(shard.id, shard.location);
  }

  async leastLoadedShard(ids: readonly string[]): Promise<string | undefined> {
    const row = this.#sql(
      `SELECT s.id FROM shards s LEFT JOIN tenants t ON t.shard = s.id AND t.status <> 'deleted'
       WHERE s.id IN (SELECT value FROM json_each(?)) GROUP BY s.id ORDER BY count(t.id), s.id LIMIT 1`,
    ).get(JSON.stringify(ids)) as { id: string } | undefined;
    return row?.id;
  }

  async insertTenant(tenant: Tenant): Promise<void> {
    this.#insertTenant(tenant);
  }

  #insertTenant(tenant: Tenant): void {
    try {
      this.#sql(`INSERT INTO tenants (${TENANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(
        ...tenantParams(tenant),
      );
    } catch (error) {
      if (
        (error as { errstr?: string }).errstr === 'constraint failed' &&
        String(error).includes('tenants.slug')
      ) {
        throw new PalisadeError(
          'PALISADE_SLUG_TAKEN',
          `the slug ${JSON.stringify(tenant.slug)} is taken`,
        );
      }
      throw error;
    }
  }

  async beginTenantCreation(tenant: Tenant): Promise<void> {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#insertTenant(tenant);
      this.#sql('INSERT INTO tenant_creations (tenant_id, started_at) VALUES (?, ?)').run(
        tenant.id,
        tenant.createdAt,
      );
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  async finishTenantCreation(tenantId: string): Promise<boolean> {
    return this.#sql('DELETE FROM tenant_creations WHERE tenant_id = ?').run(tenantId).changes > 0;
  }

  async unfinishedCreations(): Promise<Tenant[]> {
    const rows = this.#sql(
      `SELECT ${TENANT_COLUMNS} FROM tenants WHERE id IN (SELECT tenant_id FROM tenant_creations)
       ORDER BY id`,
    ).all() as unknown as TenantDbRow[];
    return rows.map(toTenant);
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const row = this.#sql(
      `SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = ? AND ${CREATED_TENANT}`,
    ).get(id) as TenantDbRow | undefined;
    return row === undefined ? undefined : toTenant(row);
  }

  async listTenants(page: PageQuery): Promise<Tenant[]> {
    const rows = this.#sql(
      `SELECT ${TENANT_COLUMNS} FROM tenants WHERE id > ? AND ${CREATED_TENANT} ORDER BY id LIMIT ?`,
    ).all(page.after ?? '', page.limit) as unknown as TenantDbRow[];
    return rows.map(toTenant);
  }

  async updateTenant(
    id: string,
    fields: { name?: string; plan?: string; status?: TenantStatus },
    updatedAt: string,
  ): Promise<Tenant | undefined> {
    const row = this.#sql(
      `UPDATE tenants SET name = coalesce(?, name), plan = coalesce(?, plan), status = coalesce(?, status), updated_at = ?
       WHERE id = ? RETURNING ${TENANT_COLUMNS}`,
    ).get(fields.name ?? null, fields.plan ?? null, fields.status ?? null, updatedAt, id) as
      | TenantDbRow
      | undefined;
    return row === undefined ? undefined : toTenant(row);
  }

  async insertApiKey(key: ApiKeyRow): Promise<void> {
    this.#sql(`INSERT INTO api_keys (${API_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
      ...apiKeyParams(key),
    );
  }

  async listApiKeys(tenantId: string): Promise<ApiKeyRow[]> {
    const rows = this.#sql(
      `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY id`,
    ).all(tenantId) as unknown as ApiKeyDbRow[];
    return rows.map(toApiKey);
  }

  async revokeApiKey(tenantId: string, keyId: string, at: string): Promise<boolean> {
    const result = this.#sql(
      'UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL',
    ).run(at, tenantId, keyId);
    return result.changes > 0;
  }

  async revokeAllApiKeys(tenantId: string, at: string): Promise<void> {
    this.#sql('UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND revoked_at IS NULL').run(
      at,
      tenantId,
    );
  }

  /** The rows' bytes are overwritten: this connection runs with `secure_delete` on (see keys). */
  async eraseTenant(tenantId: string, at: string): Promise<void> {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const table of TENANT_CONTROL_TABLES)
        this.#sql(`DELETE FROM ${table} WHERE tenant_id = ?`).run(tenantId);
      this.#sql(
        "UPDATE tenants SET name = '', updated_at = ? WHERE id = ? AND status = 'deleted'",
      ).run(at, tenantId);
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
    const { busy } = this.#sql('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number };
    if (busy !== 0)
      throw new Error(
        'the erased tenant rows are still in platform.db-wal: another connection kept the checkpoint from emptying it; retry the deletion',
      );
  }

  async discardTenant(tenantId: string): Promise<void> {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const table of [...TENANT_CONTROL_TABLES, 'tenant_creations'])
        this.#sql(`DELETE FROM ${table} WHERE tenant_id = ?`).run(tenantId);
      this.#sql('DELETE FROM tenants WHERE id = ?').run(tenantId);
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  async findCredential(secretHash: string): Promise<StoredCredential | undefined> {
    if ((await this.getAdminTokenHash()) === secretHash) return { kind: 'admin' };
    const row = this.#sql(
      `SELECT ${KEY_MATCH_COLUMNS} FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
       WHERE k.secret_hash = ? AND k.revoked_at IS NULL`,
    ).get(secretHash) as KeyMatchDbRow | undefined;
    return row === undefined ? undefined : toKeyCredential(row);
  }
}
