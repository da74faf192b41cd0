import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ADMIN_TOKEN, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/**
 * Makes every ledger write of `tenantId` fail (a trigger on its ledger table, added behind
 * the platform's back), so its commits fail; `undo` drops the trigger.
 */
async function failLedgerWrites(
  api: TestApi,
  tenantId: string,
): Promise<{ undo(): Promise<void> }> {
  const { shard } = (await api.platform.stores.controlPlane.getTenant(tenantId))!;
  if (api.fixture.name === 'sqlite') {
    const db = new DatabaseSync(
      join(api.platform.settings.data, 'shards', shard, `${tenantId}.db`),
    );
    db.exec(
      "CREATE TRIGGER test_fail_ledger BEFORE INSERT ON ledger_entries BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    );
    return {
      undo: async () => {
        db.exec('DROP TRIGGER test_fail_ledger');
        db.close();
      },
    };
  }
  const client = new pg.Client({
    connectionString: api.platform.stores.shards.get(shard)!.location,
  });
  await client.connect();
  await client.query(
    "CREATE FUNCTION test_fail_ledger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
  );
  await client.query(
    `CREATE TRIGGER test_fail_ledger BEFORE INSERT ON ledger_entries FOR EACH ROW WHEN (NEW.tenant_id = '${tenantId}') EXECUTE FUNCTION test_fail_ledger()`,
  );
  return {
    undo: async () => {
      await client.query('DROP TRIGGER test_fail_ledger ON ledger_entries');
      await client.query('DROP FUNCTION test_fail_ledger()');
      await client.end();
    },
  };
}

const APP_A = 'https://app.a.example';
const APP_B = 'https://app.b.example';
const DEV = 'http://localhost:5173';

for (const backend of backendNames()) {
  describe(`per-tenant CORS on ${backend}`, () => {
    let api: TestApi;
    let a: { id: string; key: string };
    let b: { id: string; key: string };

    const from = (origin: string, key: string, method = 'GET', url = '/v1/collections') =>
      api.call(method as 'GET', url, key, undefined, { origin });
    const preflight = (origin: string, url = '/v1/collections/people/records') =>
      api.call('OPTIONS', url, undefined, undefined, {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      });
    const assertAllowed = (reply: Reply, origin: string) => {
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(reply.headers['access-control-allow-origin'], origin);
      assert.equal(reply.headers.vary, 'Origin');
      assert.match(String(reply.headers['access-control-expose-headers']), /ratelimit/);
      assert.equal(reply.headers['access-control-allow-credentials'], undefined);
    };
    const assertRefused = (reply: Reply) => {
      assert.equal(reply.status, 403, JSON.stringify(reply.body));
      assert.equal(reply.body.code, 'PALISADE_ORIGIN_NOT_ALLOWED');
      assert.equal(reply.headers['access-control-allow-origin'], undefined);
    };

    before(async () => {
      api = await TestApi.start(backend);
      a = await api.tenant('cors-a');
      b = await api.tenant('cors-b');
    });
    after(() => api.close());

    test('a tenant sets its allow-list, and the change is in its ledger', async () => {
      assert.deepEqual((await api.call('GET', '/v1/settings/cors', a.key)).body, { origins: [] });
      const put = await api.call('PUT', '/v1/settings/cors', a.key, {
        origins: [DEV, APP_A, APP_A],
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.deepEqual(put.body, { origins: [DEV, APP_A] }, 'deduplicated, in code-point order');
      assert.deepEqual((await api.call('GET', '/v1/settings/cors', a.key)).body, put.body);
      const ledger = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', a.key);
      const entry = ledger.body.entries.find(
        (e: { entry: { action: string } }) => e.entry.action === 'settings.cors.update',
      );
      assert.ok(entry, 'a settings.cors.update ledger entry');
      assert.equal(entry.entry.resource, 'settings/cors');
      assert.match(entry.entry.actor, /^api-key:/);
    });

    test('an origin that is not exactly one is refused by name, and nothing changes', async () => {
      const before = (await api.call('GET', '/v1/settings/cors', a.key)).body;
      for (const [origin, message] of [
        ['https://app.a.example/', /bare origin; write https:\/\/app\.a\.example$/],
        ['https://App.A.example', /bare origin/],
        ['https://app.a.example:443', /bare origin/],
        ['http://app.a.example', /https/],
        ['null', /not a URL/],
        ['*', /not a URL/],
        ['ftp://app.a.example', /https/],
      ] as const) {
        const reply = await api.call('PUT', '/v1/settings/cors', a.key, {
          origins: [APP_A, origin],
        });
        assert.equal(reply.status, 400, origin);
        assert.equal(reply.body.code, 'PALISADE_INVALID_REQUEST');
        assert.equal(reply.body.errors[0].path, '/body/origins/1', origin);
        assert.match(reply.body.errors[0].message, message, origin);
      }
      const tooMany = Array.from({ length: 21 }, (_, i) => `https://app${i}.a.example`);
      const reply = await api.call('PUT', '/v1/settings/cors', a.key, { origins: tooMany });
      assert.equal(reply.status, 400);
      assert.match(reply.body.detail, /corsMaxOrigins/);
      assert.deepEqual((await api.call('GET', '/v1/settings/cors', a.key)).body, before);
    });

    test("an allowed origin is reflected on the tenant's responses; another is refused before the route runs", async () => {
      assertAllowed(await from(APP_A, a.key), APP_A);
      assertAllowed(await from(DEV, a.key), DEV);
      assertRefused(await from('https://evil.example', a.key));
      const write = await from(
        'https://evil.example',
        a.key,
        'DELETE',
        '/v1/collections/x/records/y',
      );
      assertRefused(write);
      const plain = await api.call('GET', '/v1/collections', a.key);
      assert.equal(plain.status, 200, 'a client without Origin is not concerned');
      assert.equal(plain.headers['access-control-allow-origin'], undefined);
      const same = await from('http://localhost:80', a.key);
      assert.equal(same.status, 200, 'a same-origin request is not cross-origin');
    });

    test("tenant A's origin cannot act with tenant B's credential, and B cannot change A's list", async () => {
      assertRefused(await from(APP_A, b.key));
      const put = await api.call('PUT', '/v1/settings/cors', b.key, { origins: [APP_B] });
      assert.deepEqual(put.body, { origins: [APP_B] });
      assert.deepEqual((await api.call('GET', '/v1/settings/cors', a.key)).body, {
        origins: [DEV, APP_A],
      });
      assertAllowed(await from(APP_B, b.key), APP_B);
      assertRefused(await from(APP_B, a.key));
    });

    test('a preflight, which carries no credential, is answered for origins some tenant allows', async () => {
      for (const origin of [APP_A, APP_B]) {
        const reply = await preflight(origin);
        assert.equal(reply.status, 204);
        assert.equal(reply.headers['access-control-allow-origin'], origin);
        assert.match(String(reply.headers['access-control-allow-methods']), /POST/);
        assert.match(String(reply.headers['access-control-allow-headers']), /authorization/);
        assert.equal(reply.headers['access-control-max-age'], '600');
        assert.equal(reply.headers['access-control-allow-credentials'], undefined);
      }
      for (const origin of ['https://evil.example', 'null']) {
        const reply = await preflight(origin);
        assert.equal(reply.status, 204);
        assert.equal(reply.headers['access-control-allow-origin'], undefined, origin);
        assert.equal(reply.headers['access-control-allow-methods'], undefined, origin);
      }
    });

    test("a suspended tenant's origins no longer pass a preflight", async () => {
      const c = await api.tenant('cors-c');
      await api.call('PUT', '/v1/settings/cors', c.key, { origins: ['https://app.c.example'] });
      const origin = 'https://app.c.example';
      // A new origin: its preflight answer is not cached yet.
      const suspended = await api.call('PATCH', `/v1/platform/tenants/${c.id}`, ADMIN_TOKEN, {
        status: 'suspended',
      });
      assert.equal(suspended.status, 200);
      assert.equal((await preflight(origin)).headers['access-control-allow-origin'], undefined);
    });

    test('when the ledger commit fails, the list stays what the ledger records', async () => {
      const c = await api.tenant('cors-failed-commit');
      assert.equal(
        (await api.call('PUT', '/v1/settings/cors', c.key, { origins: [APP_A] })).status,
        200,
      );
      const updates = async () =>
        (await api.call('GET', '/v1/ledger/entries?start=0&end=1000', c.key)).body.entries.filter(
          (e: { entry: { action: string } }) => e.entry.action === 'settings.cors.update',
        ).length;
      assert.equal(await updates(), 1);
      const refuseCommits = await failLedgerWrites(api, c.id);
      try {
        const put = await api.call('PUT', '/v1/settings/cors', c.key, { origins: [APP_B] });
        assert.equal(put.status, 500, JSON.stringify(put.body));
      } finally {
        await refuseCommits.undo();
      }
      assert.deepEqual((await api.call('GET', '/v1/settings/cors', c.key)).body, {
        origins: [APP_A],
      });
      assertRefused(await from(APP_B, c.key));
      assertAllowed(await from(APP_A, c.key), APP_A);
      assert.equal(await updates(), 1, 'no entry for the failed change');
      assert.equal(
        (await api.call('PUT', '/v1/settings/cors', c.key, { origins: [APP_B] })).status,
        200,
      );
      assert.equal(await updates(), 2);
    });

    test('the list needs settings permissions', async () => {
      assert.equal((await api.call('GET', '/v1/settings/cors', undefined)).status, 401);
      assert.equal(
        (await api.call('PUT', '/v1/settings/cors', ADMIN_TOKEN, { origins: [] })).status,
        403,
      );
    });
  });
}
