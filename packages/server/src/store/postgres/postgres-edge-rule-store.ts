import type pg from 'pg';
import type { EdgeRuleSetRow, TenantEdgeRuleWriter } from '../edge-rule-types.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

interface DbRow {
  device_type: string;
  rules: unknown[];
  created_at: Date;
  updated_at: Date;
}

function toRuleSet(row: DbRow): EdgeRuleSetRow {
  return {
    deviceType: row.device_type,
    rules: row.rules,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Edge rule sets of one tenant in a PostgreSQL shard (every statement names the tenant). */
export class PgTenantEdgeRules implements TenantEdgeRuleWriter {
  readonly #db: Queryable;
  readonly #tenantId: string;
  constructor(db: Queryable, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async getRuleSet(deviceType: string): Promise<EdgeRuleSetRow | undefined> {
    const result = await this.#db.query<DbRow>(
      'SELECT * FROM edge_rule_sets WHERE tenant_id = $1 AND device_type = $2',
      [this.#tenantId, deviceType],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toRuleSet(row);
  }

  async listRuleSets(after: string | undefined, limit: number): Promise<EdgeRuleSetRow[]> {
    const result = await this.#db.query<DbRow>(
      `SELECT * FROM edge_rule_sets WHERE tenant_id = $1 AND ($2::text IS NULL OR device_type > $2)
       ORDER BY device_type LIMIT $3`,
      [this.#tenantId, after ?? null, limit],
    );
    return result.rows.map(toRuleSet);
  }

  async putRuleSet(row: EdgeRuleSetRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO edge_rule_sets (tenant_id, device_type, rules, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant_id, device_type) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at`,
      [this.#tenantId, row.deviceType, JSON.stringify(row.rules), row.createdAt, row.updatedAt],
    );
  }

  async deleteRuleSet(deviceType: string): Promise<boolean> {
    const result = await this.#db.query(
      'DELETE FROM edge_rule_sets WHERE tenant_id = $1 AND device_type = $2',
      [this.#tenantId, deviceType],
    );
    return (result.rowCount ?? 0) > 0;
  }
}
