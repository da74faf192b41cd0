import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { uuid7 } from '../../src/ids/index.ts';
import type { TenantStore } from '../../src/store/index.ts';
import { migratePostgres, type PgMigration } from '../../src/store/postgres/postgres-migrate.ts';
import { asRole } from '../../src/store/postgres/postgres-shard-store.ts';
import { shardMigrations } from '../../src/store/postgres/shard-migrations.ts';
import { migrateSqlite, openSqlite } from '../../src/store/sqlite/sqlite-database.ts';
import { SqliteShardStore } from '../../src/store/sqlite/sqlite-shard-store.ts';
import { TENANT_MIGRATIONS } from '../../src/store/sqlite/tenant-migrations.ts';

/**
 * A SQLite tenant file of its own, migrated up to just before tenant migration `version`, for
 * a test of that migration: `old` writes rows as they were, then `open` closes it and opens
 * the tenant through a shard store, which migrates the rest. Removed when the test ends.
 */
export function tenantFileBefore(
  t: TestContext,
  version: number,
): { old: DatabaseSync; open(): Promise<TenantStore> } {
  const folder = mkdtempSync(join(tmpdir(), 'palisade-test-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const tenantId = uuid7();
  const old = openSqlite(join(folder, `${tenantId}.db`));
  migrateSqlite(
    old,
    TENANT_MIGRATIONS.filter((m) => m.version < version),
  );
  return {
    old,
    open: () => {
      old.close();
      const shard = new SqliteShardStore('s1', folder, 4);
      t.after(() => shard.close());
      return shard.tenant(tenantId);
    },
  };
}

/** Runs `sql` on `owner` in a transaction of `tenant` (RLS is forced); its rows. */
export async function asTenant(
  owner: pg.Client,
  tenant: string,
  sql: string,
  values: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  await owner.query('BEGIN');
  await owner.query("SELECT set_config('app.tenant_id', $1, true)", [tenant]);
  try {
    return (await owner.query(sql, values)).rows;
  } finally {
    await owner.query('COMMIT');
  }
}

/**
 * A PostgreSQL shard database of its own (owner and runtime roles under a random prefix),
 * migrated up to just before shard migration `version`, for a test of that migration; the
 * database and roles are dropped when the test ends. `migrations` are all of them, to finish.
 */
export async function shardBefore(
  t: TestContext,
  adminUrl: string,
  version: number,
): Promise<{ owner: pg.Client; migrations: readonly PgMigration[] }> {
  const prefix = `palisade_t${randomBytes(5).toString('hex')}`;
  const [ownerRole, runtimeRole, database] = [`${prefix}_owner`, `${prefix}_rt`, `${prefix}_s`];
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE ROLE ${ownerRole} LOGIN CREATEROLE`);
  await admin.query(`CREATE DATABASE ${database} OWNER ${ownerRole}`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const owner = new pg.Client({ connectionString: asRole(url.toString(), ownerRole) });
  t.after(async () => {
    await owner.end();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    for (const role of [runtimeRole, ownerRole]) await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });
  await owner.connect();
  const migrations = shardMigrations(runtimeRole);
  await migratePostgres(
    owner,
    'shard',
    migrations.filter((m) => m.version < version),
  );
  return { owner, migrations };
}
