import type pg from 'pg';
import {
  type PolicySetDbRow,
  type RoleDbRow,
  roleParams,
  toPolicySet,
  toRole,
} from '../authz-rows.ts';
import type { PolicySetRow, RoleRow, TenantAuthzWriter } from '../authz-types.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** Custom roles and the Cedar policy set of one tenant in a PostgreSQL shard. */
export class PgTenantAuthz implements TenantAuthzWriter {
  readonly #db: Queryable;
  readonly #tenantId: string;
  constructor(db: Queryable, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async getRole(name: string): Promise<RoleRow | undefined> {
    const result = await this.#db.query<RoleDbRow>(
      'SELECT * FROM roles WHERE tenant_id = $1 AND name = $2',
      [this.#tenantId, name],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toRole(row);
  }

  async listRoles(): Promise<RoleRow[]> {
    const result = await this.#db.query<RoleDbRow>(
      'SELECT * FROM roles WHERE tenant_id = $1 ORDER BY name',
      [this.#tenantId],
    );
    return result.rows.map(toRole);
  }

  async getPolicySet(): Promise<PolicySetRow | undefined> {
    const result = await this.#db.query<PolicySetDbRow>(
      'SELECT text, version, updated_at FROM policy_sets WHERE tenant_id = $1',
      [this.#tenantId],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toPolicySet(row);
  }

  async putRole(row: RoleRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO roles (tenant_id, name, description, permissions, version, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (tenant_id, name) DO UPDATE SET description = excluded.description,
         permissions = excluded.permissions, version = excluded.version, updated_at = excluded.updated_at`,
      [this.#tenantId, ...roleParams(row)],
    );
  }

  async deleteRole(name: string): Promise<boolean> {
    const result = await this.#db.query('DELETE FROM roles WHERE tenant_id = $1 AND name = $2', [
      this.#tenantId,
      name,
    ]);
    return (result.rowCount ?? 0) > 0;
  }

  async putPolicySet(row: PolicySetRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO policy_sets (tenant_id, text, version, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id) DO UPDATE SET text = excluded.text, version = excluded.version,
         updated_at = excluded.updated_at`,
      [this.#tenantId, row.text, row.version, row.updatedAt],
    );
  }

  async deletePolicySet(): Promise<boolean> {
    const result = await this.#db.query('DELETE FROM policy_sets WHERE tenant_id = $1', [
      this.#tenantId,
    ]);
    return (result.rowCount ?? 0) > 0;
  }

  /** Removes the tenant's roles and policy set. */
  async purge(): Promise<void> {
    await this.deletePolicySet();
    await this.#db.query('DELETE FROM roles WHERE tenant_id = $1', [this.#tenantId]);
  }
}
