import type { DatabaseSync } from 'node:sqlite';
import type { ControlPlaneCorsStore } from '../cors-types.ts';

/** Tenants' CORS allow-lists in `platform.db`. */
export class SqliteCorsOrigins implements ControlPlaneCorsStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  async listOrigins(tenantId: string): Promise<string[]> {
    const rows = this.#db
      .prepare('SELECT origin FROM tenant_cors_origins WHERE tenant_id = ? ORDER BY origin')
      .all(tenantId) as { origin: string }[];
    return rows.map((row) => row.origin);
  }

  async replaceOrigins(tenantId: string, origins: readonly string[]): Promise<void> {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#db.prepare('DELETE FROM tenant_cors_origins WHERE tenant_id = ?').run(tenantId);
      const insert = this.#db.prepare(
        'INSERT INTO tenant_cors_origins (tenant_id, origin) VALUES (?, ?)',
      );
      for (const origin of origins) insert.run(tenantId, origin);
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  async anyAllows(origin: string): Promise<boolean> {
    const row = this.#db
      .prepare(
        `SELECT 1 AS found FROM tenant_cors_origins c JOIN tenants t ON t.id = c.tenant_id
         WHERE c.origin = ? AND t.status = 'active' LIMIT 1`,
      )
      .get(origin);
    return row !== undefined;
  }
}
