import type { StatementSync } from 'node:sqlite';
import {
  type PolicySetDbRow,
  type RoleDbRow,
  roleParams,
  toPolicySet,
  toRole,
} from '../authz-rows.ts';
import type { PolicySetRow, RoleRow, TenantAuthzWriter } from '../authz-types.ts';

type Prepare = (sql: string) => StatementSync;

/** Custom roles and the Cedar policy set in one tenant's SQLite file. */
export class SqliteTenantAuthz implements TenantAuthzWriter {
  readonly #sql: Prepare;
  constructor(sql: Prepare) {
    this.#sql = sql;
  }

  async getRole(name: string): Promise<RoleRow | undefined> {
    const row = this.#sql('SELECT * FROM roles WHERE name = ?').get(name);
    return row === undefined ? undefined : toRole(row as unknown as RoleDbRow);
  }

  async listRoles(): Promise<RoleRow[]> {
    return (this.#sql('SELECT * FROM roles ORDER BY name').all() as unknown as RoleDbRow[]).map(
      toRole,
    );
  }

  async getPolicySet(): Promise<PolicySetRow | undefined> {
    const row = this.#sql('SELECT text, version, updated_at FROM policy_set').get();
    return row === undefined ? undefined : toPolicySet(row as unknown as PolicySetDbRow);
  }

  async putRole(row: RoleRow): Promise<void> {
    this.#sql(
      `INSERT OR REPLACE INTO roles (name, description, permissions, version, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(...roleParams(row));
  }

  async deleteRole(name: string): Promise<boolean> {
    return this.#sql('DELETE FROM roles WHERE name = ?').run(name).changes > 0;
  }

  async putPolicySet(row: PolicySetRow): Promise<void> {
    this.#sql(
      'INSERT OR REPLACE INTO policy_set (id, text, version, updated_at) VALUES (1, ?, ?, ?)',
    ).run(row.text, row.version, row.updatedAt);
  }

  async deletePolicySet(): Promise<boolean> {
    return this.#sql('DELETE FROM policy_set').run().changes > 0;
  }
}
