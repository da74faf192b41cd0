import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { TestApi } from './support/api.ts';
import { tenantsOnOneShard } from './support/rls.ts';

const url = process.env.PALISADE_TEST_POSTGRES_URL;

if (url !== undefined) {
  describe('PostgreSQL row-level security holds without the application', () => {
    let api: TestApi;
    let runtime: pg.Client;
    let owner: pg.Client;
    let tenantA: { id: string; key: string };
    let tenantB: { id: string; key: string };

    before(async () => {
      api = await TestApi.start('postgres');
      ({ a: tenantA, b: tenantB, owner, runtime } = await tenantsOnOneShard(api, 'rls'));
      for (const t of [tenantA, tenantB]) {
        await api.call('PUT', '/v1/collections/notes', t.key, { schema: { type: 'object' } });
        await api.call('POST', '/v1/collections/notes/records', t.key, { secret: `of ${t.id}` });
        await api.call('POST', '/v1/device-cas', t.key, { generate: true });
      }
    });
    after(async () => {
      await runtime.end();
      await owner.end();
      await api.close();
    });

    test('the runtime role owns nothing and cannot bypass RLS', async () => {
      const role = api.platform.settings.postgresRuntimeRole;
      const attrs = await owner.query(
        'SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1',
        [role],
      );
      assert.deepEqual(attrs.rows[0], { rolsuper: false, rolbypassrls: false });
      const owned = await owner.query(
        "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tableowner = $1",
        [role],
      );
      assert.equal(owned.rows[0].n, 0);
      const forced = await owner.query(
        "SELECT relname FROM pg_class WHERE relname IN ('records', 'collections') AND relforcerowsecurity",
      );
      assert.equal(forced.rows.length, 2);
    });

    test('without app.tenant_id the runtime role reads zero rows and cannot insert', async () => {
      const all = await owner.query('SELECT count(*)::int AS n FROM records');
      assert.equal(all.rows[0].n, 2, 'the owner sees both rows');
      const seen = await runtime.query('SELECT count(*)::int AS n FROM records');
      assert.equal(seen.rows[0].n, 0);
      await assert.rejects(
        runtime.query(
          "INSERT INTO collections (tenant_id, name, schema, encrypted, version, created_at, updated_at) VALUES ($1, 'x', '{}', '[]', 1, now(), now())",
          [tenantA.id],
        ),
        /row-level security/,
      );
    });

    test("with tenant A set, B's rows are invisible and cannot be written", async () => {
      await runtime.query('BEGIN');
      try {
        await runtime.query("SELECT set_config('app.tenant_id', $1, true)", [tenantA.id]);
        const rows = await runtime.query('SELECT tenant_id FROM records');
        assert.deepEqual(
          rows.rows.map((r) => r.tenant_id),
          [tenantA.id],
        );
        const updated = await runtime.query("UPDATE records SET data = '{}' WHERE tenant_id = $1", [
          tenantB.id,
        ]);
        assert.equal(updated.rowCount, 0);
        await assert.rejects(
          runtime.query(
            "INSERT INTO collections (tenant_id, name, schema, encrypted, version, created_at, updated_at) VALUES ($1, 'y', '{}', '[]', 1, now(), now())",
            [tenantB.id],
          ),
          /row-level security/,
        );
      } finally {
        await runtime.query('ROLLBACK');
      }
    });

    test("generated device CA keys: A sees only its own, cannot delete B's, and none can be rewritten", async () => {
      const all = await owner.query('SELECT count(*)::int AS n FROM device_ca_keys');
      assert.equal(all.rows[0].n, 2, 'the owner sees both sealed keys');
      await runtime.query('BEGIN');
      try {
        await runtime.query("SELECT set_config('app.tenant_id', $1, true)", [tenantA.id]);
        const rows = await runtime.query('SELECT tenant_id FROM device_ca_keys');
        assert.deepEqual(
          rows.rows.map((r) => r.tenant_id),
          [tenantA.id],
        );
        const deleted = await runtime.query('DELETE FROM device_ca_keys WHERE tenant_id = $1', [
          tenantB.id,
        ]);
        assert.equal(deleted.rowCount, 0);
        await assert.rejects(
          runtime.query("UPDATE device_ca_keys SET sealed_key = '\\x00'"),
          /permission denied/,
        );
      } finally {
        await runtime.query('ROLLBACK');
      }
    });
  });
}
