import type { StatementSync } from 'node:sqlite';
import type { EdgeRuleSetRow, TenantEdgeRuleWriter } from '../edge-rule-types.ts';

type Prepare = (sql: string) => StatementSync;

interface DbRow {
  device_type: string;
  rules: string;
  created_at: string;
  updated_at: string;
}

function toRuleSet(row: DbRow): EdgeRuleSetRow {
  return {
    deviceType: row.device_type,
    rules: JSON.parse(row.rules),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Edge rule sets in one tenant's SQLite file. */
export class SqliteTenantEdgeRules implements TenantEdgeRuleWriter {
  readonly #sql: Prepare;
  constructor(sql: Prepare) {
    this.#sql = sql;
  }

  async getRuleSet(deviceType: string): Promise<EdgeRuleSetRow | undefined> {
    const row = this.#sql('SELECT * FROM edge_rule_sets WHERE device_type = ?').get(deviceType);
    return row === undefined ? undefined : toRuleSet(row as unknown as DbRow);
  }

  async listRuleSets(after: string | undefined, limit: number): Promise<EdgeRuleSetRow[]> {
    return (
      this.#sql(
        'SELECT * FROM edge_rule_sets WHERE (? IS NULL OR device_type > ?) ORDER BY device_type LIMIT ?',
      ).all(after ?? null, after ?? null, limit) as unknown as DbRow[]
    ).map(toRuleSet);
  }

  async putRuleSet(row: EdgeRuleSetRow): Promise<void> {
    this.#sql(
      `INSERT INTO edge_rule_sets (device_type, rules, created_at, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (device_type) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at`,
    ).run(row.deviceType, JSON.stringify(row.rules), row.createdAt, row.updatedAt);
  }

  async deleteRuleSet(deviceType: string): Promise<boolean> {
    return (
      Number(
        this.#sql('DELETE FROM edge_rule_sets WHERE device_type = ?').run(deviceType).changes,
      ) > 0
    );
  }
}
