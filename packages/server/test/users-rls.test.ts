import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { TestApi } from './support/api.ts';
import { tenantsOnOneShard } from './support/rls.ts';

const url = process.env.PALISADE_TEST_POSTGRES_URL;

if (url !== undefined) {
  describe('PostgreSQL row-level security holds on users, invitations and sign-in failures', () => {
    let api: TestApi;
    let owner: pg.Client;
    let runtime: pg.Client;
    let a: { id: string; key: string };
    let b: { id: string; key: string };

    before(async () => {
      api = await TestApi.start('postgres');
      ({ a, b, owner, runtime } = await tenantsOnOneShard(api, 'users'));
      for (const t of [a, b]) {
        const created = await api.call('POST', '/v1/users', t.key, {
          email: `someone@${t.id}.example`,
          name: 'Someone',
        });
        assert.equal(created.status, 201);
        const tenant = (await api.platform.stores.controlPlane.getTenant(t.id))!;
        await assert.rejects(
          api.platform.users.authenticator.signIn(tenant, 'nobody@example.com', 'a guess'),
          { code: 'PALISADE_SIGN_IN_FAILED' },
        );
      }
    });
    after(async () => {
      await runtime.end();
      await owner.end();
      await api.close();
    });

    test('the tables force RLS; the runtime role sees and changes only its tenant', async () => {
      const forced = await owner.query(
        "SELECT relname FROM pg_class WHERE relname IN ('users', 'user_invitations', 'sign_in_failures') AND relforcerowsecurity ORDER BY relname",
      );
      assert.deepEqual(
        forced.rows.map((r) => r.relname),
        ['sign_in_failures', 'user_invitations', 'users'],
      );
      assert.equal((await runtime.query('SELECT count(*)::int AS n FROM users')).rows[0].n, 0);
      await runtime.query('BEGIN');
      try {
        await runtime.query("SELECT set_config('app.tenant_id', $1, true)", [a.id]);
        for (const table of ['users', 'user_invitations', 'sign_in_failures']) {
          const rows = await runtime.query(`SELECT tenant_id FROM ${table}`);
          assert.deepEqual(
            rows.rows.map((r) => r.tenant_id),
            [a.id],
            table,
          );
        }
        const changed = await runtime.query(
          'UPDATE users SET roles = \'["owner"]\' WHERE tenant_id = $1',
          [b.id],
        );
        assert.equal(changed.rowCount, 0);
        const cleared = await runtime.query('DELETE FROM sign_in_failures WHERE tenant_id = $1', [
          b.id,
        ]);
        assert.equal(cleared.rowCount, 0);
        await assert.rejects(
          runtime.query(
            `INSERT INTO users (tenant_id, id, email, name, roles, disabled, version, created_at, updated_at)
             VALUES ($1, gen_random_uuid(), 'mallory@example.com', 'M', '[]', false, 1, now(), now())`,
            [b.id],
          ),
          /row-level security/,
        );
      } finally {
        await runtime.query('ROLLBACK');
      }
    });
  });
}
