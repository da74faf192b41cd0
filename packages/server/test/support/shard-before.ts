import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { migratePostgres, type PgMigration } from '../../src/store/postgres/postgres-migrate.ts';
import { asRole } from '../../src/store/postgres/postgres-shard-store.ts';
import { shardMigrations } from '../../src/store/postgres/shard-migrations.ts';

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
