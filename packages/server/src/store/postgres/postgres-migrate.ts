import type pg from 'pg';

/** A forward-only schema change of one scope (`control-plane` or `shard`). */
export interface PgMigration {
  readonly version: number;
  readonly sql: string;
}

/**
 * Applies pending migrations of `scope` under a transaction-scoped advisory lock, so several
 * processes starting at once migrate a database exactly once.
 */
export async function migratePostgres(
  client: pg.Client,
  scope: string,
  migrations: readonly PgMigration[],
): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('palisade.migrate'))");
    await client.query(
      'CREATE TABLE IF NOT EXISTS palisade_migrations (scope text NOT NULL, version int NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (scope, version))',
    );
    const applied = await client.query<{ version: number }>(
      'SELECT version FROM palisade_migrations WHERE scope = $1',
      [scope],
    );
    const done = new Set(applied.rows.map((r) => r.version));
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO palisade_migrations (scope, version) VALUES ($1, $2)', [
        scope,
        migration.version,
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

/** Quotes an SQL identifier that the settings already restrict to [a-z_][a-z0-9_]*. */
export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new TypeError(`unsafe SQL identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}
