import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { tenantsOnOneShard } from './support/rls.ts';

const url = process.env.PALISADE_TEST_POSTGRES_URL;

if (url !== undefined) {
  describe('roles and policy sets under PostgreSQL row-level security', () => {
    let api: TestApi;
    let runtime: pg.Client;
    let owner: pg.Client;
    let a: { id: string; key: string };
    let b: { id: string; key: string };

    before(async () => {
      api = await TestApi.start('postgres');
      ({ a, b, owner, runtime } = await tenantsOnOneShard(api, 'authz-rls'));
      for (const t of [a, b]) {
        await api.call('PUT', '/v1/roles/auditor', t.key, { permissions: ['ledger:read'] });
        await api.call('PUT', '/v1/policies', t.key, {
          policies: `// of ${t.id}\npermit (principal, action, resource);`,
        });
      }
    });
    after(async () => {
      await runtime.end();
      await owner.end();
      await api.close();
    });

    test('every table with a tenant_id column has row-level security, forced', async () => {
      const { rows } = await owner.query<{ relname: string }>(
        `SELECT c.relname FROM pg_class c
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
           AND NOT c.relispartition AND NOT (c.relrowsecurity AND c.relforcerowsecurity)`,
      );
      assert.deepEqual(rows, []);
      const tables = await owner.query<{ relname: string }>(
        "SELECT relname FROM pg_class WHERE relname IN ('roles', 'policy_sets') AND relforcerowsecurity ORDER BY relname",
      );
      assert.deepEqual(
        tables.rows.map((r) => r.relname),
        ['policy_sets', 'roles'],
      );
    });

    test("with tenant A set, B's roles and policy set are invisible and cannot be written", async () => {
      await runtime.query('BEGIN');
      try {
        await runtime.query("SELECT set_config('app.tenant_id', $1, true)", [a.id]);
        const roles = await runtime.query('SELECT tenant_id FROM roles');
        assert.deepEqual(
          roles.rows.map((r) => r.tenant_id),
          [a.id],
        );
        const sets = await runtime.query('SELECT tenant_id, text FROM policy_sets');
        assert.deepEqual(
          sets.rows.map((r) => r.tenant_id),
          [a.id],
        );
        const changed = await runtime.query(
          "UPDATE policy_sets SET text = 'forbid (principal, action, resource);' WHERE tenant_id = $1",
          [b.id],
        );
        assert.equal(changed.rowCount, 0);
        const removed = await runtime.query('DELETE FROM roles WHERE tenant_id = $1', [b.id]);
        assert.equal(removed.rowCount, 0);
        await assert.rejects(
          runtime.query(
            "INSERT INTO roles (tenant_id, name, description, permissions, version, created_at, updated_at) VALUES ($1, 'owner2', '', '[]', 1, now(), now())",
            [b.id],
          ),
          /row-level security/,
        );
      } finally {
        await runtime.query('ROLLBACK');
      }
      const bPolicies = await api.call('GET', '/v1/policies', b.key);
      assert.match(bPolicies.body.policies, new RegExp(`of ${b.id}`));
    });

    test('deleting a tenant removes its roles and policy set, and only its own', async () => {
      assert.equal(
        (await api.call('DELETE', `/v1/platform/tenants/${b.id}`, ADMIN_TOKEN)).status,
        204,
      );
      const count = async (table: string, tenantId: string) =>
        (
          await owner.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`,
            [tenantId],
          )
        ).rows[0]!.n;
      for (const table of ['roles', 'policy_sets']) {
        assert.equal(await count(table, b.id), 0, `${table} of the deleted tenant`);
        assert.equal(await count(table, a.id), 1, `${table} of the other tenant`);
      }
    });
  });
}
