import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import type { BackendFixture } from './backends.ts';

/**
 * Runs one statement on the control plane of `settings` as its owner, behind the platform's
 * back (a test removing or counting rows the API would not): SQLite's `platform.db` or the
 * PostgreSQL control-plane database, with `$n` placeholders on both. Answers its rows.
 */
export async function controlPlaneSql(
  settings: BackendFixture['settings'],
  sql: string,
  params: readonly (string | number)[] = [],
): Promise<Record<string, unknown>[]> {
  if (settings.database === undefined) {
    const db = new DatabaseSync(join(settings.data, 'platform.db'));
    try {
      const statement = db.prepare(sql.replace(/\$\d+/g, '?'));
      if (statement.columns().length > 0)
        return statement.all(...params) as Record<string, unknown>[];
      statement.run(...params);
      return [];
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: settings.database });
  await client.connect();
  try {
    return (await client.query(sql, [...params])).rows;
  } finally {
    await client.end();
  }
}
