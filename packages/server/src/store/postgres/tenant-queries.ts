import type pg from 'pg';

export type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * The statements of one tenant in a shard: each names the tenant as `$1` (the parameters
 * given follow it), and runs where RLS also enforces it.
 */
export class TenantQueries {
  readonly db: Queryable;
  readonly tenantId: string;

  constructor(db: Queryable, tenantId: string) {
    this.db = db;
    this.tenantId = tenantId;
  }

  async one<T>(sql: string, params: unknown[]): Promise<T | undefined> {
    return (await this.db.query(sql, [this.tenantId, ...params])).rows[0] as T | undefined;
  }

  async all<T>(sql: string, params: unknown[]): Promise<T[]> {
    return (await this.db.query(sql, [this.tenantId, ...params])).rows as T[];
  }

  /** Runs a statement; how many rows it touched. */
  async run(sql: string, params: unknown[]): Promise<number> {
    return (await this.db.query(sql, [this.tenantId, ...params])).rowCount ?? 0;
  }
}
