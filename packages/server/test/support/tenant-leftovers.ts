import { readdirSync } from 'node:fs';
import pg from 'pg';

/**
 * What a shard still holds of a tenant: on PostgreSQL each table (partitions included) with
 * rows of it, read as the admin (a superuser, which row-level security does not bind); on
 * SQLite its files in the shard folder. The tombstone a drop leaves is not data.
 */
export async function tenantLeftovers(location: string, tenantId: string): Promise<string[]> {
  if (!/^postgres(ql)?:\/\//.test(location))
    return readdirSync(location).filter(
      (file) => file.startsWith(tenantId) && !file.endsWith('.dropped'),
    );
  const db = new pg.Client({ connectionString: location });
  await db.connect();
  try {
    const tables = await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.columns
       WHERE table_schema = 'public' AND column_name = 'tenant_id' AND table_name <> 'dropped_tenants'
       ORDER BY table_name`,
    );
    const left: string[] = [];
    for (const { table_name: table } of tables.rows) {
      const found = await db.query(`SELECT 1 FROM "${table}" WHERE tenant_id = $1 LIMIT 1`, [
        tenantId,
      ]);
      if (found.rowCount !== 0) left.push(table);
    }
    return left;
  } finally {
    await db.end();
  }
}
