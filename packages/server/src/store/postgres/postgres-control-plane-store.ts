import pg from 'pg';
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
import { PG_CONTROL_PLANE_MIGRATIONS } from './control-plane-migrations.ts';
import { inPoolTransaction } from './pool-transaction.ts';
import { PgCorsOrigins } from './postgres-cors-store.ts';
import { PgDeviceIndex } from './postgres-device-index.ts';
import { PgDpopProofs } from './postgres-dpop-proof-store.ts';
import { PgIdentityStore } from './postgres-identity-store.ts';
import { PgControlPlaneKeys } from './postgres-key-store.ts';
import { migratePostgres } from './postgres-migrate.ts';

/** The scale-out control plane: platform tables in one PostgreSQL database. */
export class PostgresControlPlaneStore implements ControlPlaneStore {
  readonly kind = 'postgres';
  readonly keys: PgControlPlaneKeys;
  readonly devices: PgDeviceIndex;
  readonly identity: PgIdentityStore;
  readonly cors: PgCorsOrigins;
  readonly dpopProofs: PgDpopProofs;
  readonly #url: string;
  readonly #pool: pg.Pool;

  constructor(url: string, poolSize: number) {
    this.#url = url;
    this.#pool = new pg.Pool({ connectionString: url, max: poolSize });
    this.#pool.on('error', () => undefined);
    this.keys = new PgControlPlaneKeys(this.#pool);
    this.devices = new PgDeviceIndex(this.#pool);
    this.identity = new PgIdentityStore(this.#pool);
    this.cors = new PgCorsOrigins(this.#pool);
    this.dpopProofs = new PgDpopProofs(this.#pool);
  }

  async migrate(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url });
    await client.connect();
    try {
      await migratePostgres(client, 'control-plane', PG_CONTROL_PLANE_MIGRATIONS);
    } finally {
      await client.end();
    }
  }

  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async getAdminTokenHash(): Promise<string | undefined> {
    const result = await this.#pool.query<{ value: string }>(
      'SELECT value FROM platform_settings WHERE key = $1',
      [ADMIN_TOKEN_KEY],
    );
    return result.rows[0]?.value;
  }

  async setAdminTokenHash(hash: string): Promise<void> {
    await this.#pool.query(
      'INSERT INTO platform_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [ADMIN_TOKEN_KEY, hash],
    );
  }

  async registerShards(shards: readonly ShardRow[]): Promise<void> {
    for (const shard of shards) {
      await this.#pool.query(
        'INSERT INTO shards (id, location) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET location = excluded.location',
        [shard.id, shard.location],
      );
    }
  }

  async leastLoadedShard(ids: readonly string[]): Promise<string | undefined> {
    const result = await this.#pool.query<{ id: string }>(
      `SELECT s.id FROM shards s LEFT JOIN tenants t ON t.shard = s.id AND t.status <> 'deleted'
       WHERE s.id = ANY($1::text[]) GROUP BY s.id ORDER BY count(t.id), s.id LIMIT 1`,
      [ids],
    );
    return result.rows[0]?.id;
  }

  async insertTenant(tenant: Tenant): Promise<void> {
    await insertTenantRow(this.#pool, tenant);
  }

  async beginTenantCreation(tenant: Tenant): Promise<void> {
    await inPoolTransaction(this.#pool, async (client) => {
      await insertTenantRow(client, tenant);
      await client.query('INSERT INTO tenant_creations (tenant_id, started_at) VALUES ($1, $2)', [
        tenant.id,
        tenant.createdAt,
      ]);
    });
  }

  async finishTenantCreation(tenantId: string): Promise<boolean> {
    const result = await this.#pool.query('DELETE FROM tenant_creations WHERE tenant_id = $1', [
      tenantId,
    ]);
    return (result.rowCount ?? 0) > 0;
  }

  async unfinishedCreations(): Promise<Tenant[]> {
    const result = await this.#pool.query<TenantDbRow>(
      `SELECT ${TENANT_COLUMNS} FROM tenants WHERE id IN (SELECT tenant_id FROM tenant_creations)
       ORDER BY id`,
    );
    return result.rows.map(toTenant);
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const result = await this.#pool.query<TenantDbRow>(
      `SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = $1 AND ${CREATED_TENANT}`,
      [id],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toTenant(row);
  }

  async listTenants(page: PageQuery): Promise<Tenant[]> {
    const result = await this.#pool.query<TenantDbRow>(
      `SELECT ${TENANT_COLUMNS} FROM tenants WHERE ($1::uuid IS NULL OR id > $1::uuid) AND ${CREATED_TENANT}
       ORDER BY id LIMIT $2`,
      [page.after ?? null, page.limit],
    );
    return result.rows.map(toTenant);
  }

  async updateTenant(
    id: string,
    fields: { name?: string; plan?: string; status?: TenantStatus },
    updatedAt: string,
  ): Promise<Tenant | undefined> {
    const result = await this.#pool.query<TenantDbRow>(
      `UPDATE tenants SET name = coalesce($1, name), plan = coalesce($2, plan), status = coalesce($3, status), updated_at = $4
       WHERE id = $5 RETURNING ${TENANT_COLUMNS}`,
      [fields.name ?? null, fields.plan ?? null, fields.status ?? null, updatedAt, id],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toTenant(row);
  }

  async insertApiKey(key: ApiKeyRow): Promise<void> {
    await this.#pool.query(
      `INSERT INTO api_keys (${API_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [...apiKeyParams(key)],
    );
  }

  async listApiKeys(tenantId: string): Promise<ApiKeyRow[]> {
    const result = await this.#pool.query<ApiKeyDbRow>(
      `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY id`,
      [tenantId],
    );
    return result.rows.map(toApiKey);
  }

  async revokeApiKey(tenantId: string, keyId: string, at: string): Promise<boolean> {
    const result = await this.#pool.query(
      'UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL',
      [at, tenantId, keyId],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async revokeAllApiKeys(tenantId: string, at: string): Promise<void> {
    await this.#pool.query(
      'UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND revoked_at IS NULL',
      [at, tenantId],
    );
  }

  async eraseTenant(tenantId: string, at: string): Promise<void> {
    await inPoolTransaction(this.#pool, async (client) => {
      for (const table of TENANT_CONTROL_TABLES)
        await client.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [tenantId]);
      await client.query(
        "UPDATE tenants SET name = '', updated_at = $1 WHERE id = $2 AND status = 'deleted'",
        [at, tenantId],
      );
    });
  }

  async discardTenant(tenantId: string): Promise<void> {
    await inPoolTransaction(this.#pool, async (client) => {
      for (const table of [...TENANT_CONTROL_TABLES, 'tenant_creations'])
        await client.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [tenantId]);
      await client.query('DELETE FROM tenants WHERE id = $1', [tenantId]);
    });
  }

  async findCredential(secretHash: string): Promise<StoredCredential | undefined> {
    if ((await this.getAdminTokenHash()) === secretHash) return { kind: 'admin' };
    const result = await this.#pool.query<KeyMatchDbRow>(
      `SELECT ${KEY_MATCH_COLUMNS} FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
       WHERE k.secret_hash = $1 AND k.revoked_at IS NULL`,
      [secretHash],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toKeyCredential(row);
  }
}

/** Inserts a tenant row; throws PALISADE_SLUG_TAKEN when the slug exists. */
async function insertTenantRow(db: Pick<pg.Pool, 'query'>, tenant: Tenant): Promise<void> {
  try {
    await db.query(
      `INSERT INTO tenants (${TENANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [...tenantParams(tenant)],
    );
  } catch (error) {
    if ((error as { code?: string; constraint?: string }).constraint === 'tenants_slug_key') {
      throw new PalisadeError(
        'PALISADE_SLUG_TAKEN',
        `the slug ${JSON.stringify(tenant.slug)} is taken`,
      );
    }
    throw error;
  }
}
