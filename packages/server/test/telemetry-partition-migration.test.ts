/**
 * Shard migration 18 removes the default telemetry partition (retention could not detach
 * partitions concurrently beside it). Run by an owner that is no superuser, so FORCEd
 * row-level security binds it, every tenant's points held there move to monthly partitions
 * of their own, with RLS forced like the others, and the parent keeps RLS forced.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { migratePostgres } from '../src/store/postgres/postgres-migrate.ts';
import { asRole } from '../src/store/postgres/postgres-shard-store.ts';
import { shardMigrations } from '../src/store/postgres/shard-migrations.ts';

const adminUrl = process.env.PALISADE_TEST_POSTGRES_URL;

if (adminUrl !== undefined) {
  describe('shard migration 18: no default telemetry partition (postgres)', () => {
    const prefix = `palisade_t${randomBytes(5).toString('hex')}`;
    const [ownerRole, runtimeRole, database] = [`${prefix}_owner`, `${prefix}_rt`, `${prefix}_s`];
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    let owner: pg.Client;
    const tenants = [randomUUID(), randomUUID()];
    /** Points of January 1970 and March 2026 (in the default partition) and April 2026. */
    const times = [5, Date.UTC(2026, 2, 15), Date.UTC(2026, 3, 15)];

    before(async () => {
      await admin.connect();
      await admin.query(`CREATE ROLE ${ownerRole} LOGIN CREATEROLE`);
      await admin.query(`CREATE DATABASE ${database} OWNER ${ownerRole}`);
      owner = new pg.Client({ connectionString: asRole(url.toString(), ownerRole) });
      await owner.connect();
      const migrations = shardMigrations(runtimeRole);
      await migratePostgres(
        owner,
        'shard',
        migrations.filter((m) => m.version < 18),
      );
      await owner.query(
        `CREATE TABLE telemetry_p202604 PARTITION OF telemetry
         FOR VALUES FROM (${Date.UTC(2026, 3, 1)}) TO (${Date.UTC(2026, 4, 1)});
         ALTER TABLE telemetry_p202604 ENABLE ROW LEVEL SECURITY;
         ALTER TABLE telemetry_p202604 FORCE ROW LEVEL SECURITY`,
      );
      for (const tenant of tenants) {
        await owner.query('BEGIN');
        await owner.query("SELECT set_config('app.tenant_id', $1, true)", [tenant]);
        for (const ts of times)
          await owner.query(
            `INSERT INTO telemetry (tenant_id, device_id, key, ts, type, num)
             VALUES ($1, $2, 'v', $3, 'number', 1)`,
            [tenant, randomUUID(), ts],
          );
        await owner.query('COMMIT');
      }
      await migratePostgres(owner, 'shard', migrations);
    });
    after(async () => {
      await owner?.end();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      for (const role of [runtimeRole, ownerRole]) await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    });

    test('the default partition is gone and its points are in monthly partitions', async () => {
      const { rows } = await owner.query<{ name: string; forced: boolean }>(
        `SELECT c.relname AS name, c.relforcerowsecurity AS forced
         FROM pg_class c WHERE c.relname LIKE 'telemetry%' AND c.relkind IN ('r', 'p')
           AND c.relname NOT LIKE 'telemetry_latest%' ORDER BY 1`,
      );
      assert.deepEqual(rows, [
        { name: 'telemetry', forced: true },
        { name: 'telemetry_p197001', forced: true },
        { name: 'telemetry_p202603', forced: true },
        { name: 'telemetry_p202604', forced: true },
      ]);
    });

    test('each tenant still reads all its points, and only its own', async () => {
      for (const tenant of tenants) {
        await owner.query('BEGIN');
        await owner.query("SELECT set_config('app.tenant_id', $1, true)", [tenant]);
        const { rows } = await owner.query<{ tenant_id: string; ts: string }>(
          'SELECT tenant_id, ts FROM telemetry ORDER BY ts',
        );
        await owner.query('COMMIT');
        assert.deepEqual(
          rows,
          times.map((ts) => ({ tenant_id: tenant, ts: String(ts) })),
        );
      }
    });
  });
}
