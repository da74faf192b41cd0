import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import type { BackendFixture } from './backends.ts';

/**
 * The rows of the DPoP proofs the platform of `settings` remembers for `tenantId`, read behind
 * its back: SQLite's `dpop-proofs.db` or the PostgreSQL
 * control plane's `dpop_proofs`.
 */
export async function dpopProofRows(
  settings: BackendFixture['settings'],
  tenantId: string,
): Promise<{ until: number }[]> {
  const sql = 'SELECT until FROM dpop_proofs WHERE tenant_id = $1 ORDER BY until';
  if (settings.database === undefined) {
    const db = new DatabaseSync(join(settings.data, 'dpop-proofs.db'), { readOnly: true });
    try {
      const rows = db.prepare(sql.replace('$1', '?')).all(tenantId) as { until: number }[];
      return rows.map((row) => ({ until: Number(row.until) }));
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: settings.database });
  await client.connect();
  try {
    const result = await client.query<{ until: string }>(sql, [tenantId]);
    return result.rows.map((row) => ({ until: Number(row.until) }));
  } finally {
    await client.end();
  }
}
