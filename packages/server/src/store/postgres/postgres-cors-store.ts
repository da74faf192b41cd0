import type pg from 'pg';
import type { ControlPlaneCorsStore } from '../cors-types.ts';
import { inPoolTransaction } from './pool-transaction.ts';

/** Tenants' CORS allow-lists in the control-plane database. */
export class PgCorsOrigins implements ControlPlaneCorsStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async listOrigins(tenantId: string): Promise<string[]> {
    const result = await this.#pool.query<{ origin: string }>(
      'SELECT origin FROM tenant_cors_origins WHERE tenant_id = $1 ORDER BY origin COLLATE "C"',
      [tenantId],
    );
    return result.rows.map((row) => row.origin);
  }

  async replaceOrigins(tenantId: string, origins: readonly string[]): Promise<void> {
    await inPoolTransaction(this.#pool, async (client) => {
      await client.query('DELETE FROM tenant_cors_origins WHERE tenant_id = $1', [tenantId]);
      await client.query(
        'INSERT INTO tenant_cors_origins (tenant_id, origin) SELECT $1, unnest($2::text[])',
        [tenantId, origins],
      );
    });
  }

  async anyAllows(origin: string): Promise<boolean> {
    const result = await this.#pool.query(
      `SELECT 1 FROM tenant_cors_origins c JOIN tenants t ON t.id = c.tenant_id
       WHERE c.origin = $1 AND t.status = 'active' LIMIT 1`,
      [origin],
    );
    return result.rowCount !== 0;
  }
}
