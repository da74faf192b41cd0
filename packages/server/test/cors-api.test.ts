import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

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

    test('the list needs settings permissions', async () => {
      assert.equal((await api.call('GET', '/v1/settings/cors', undefined)).status, 401);
      assert.equal(
        (await api.call('PUT', '/v1/settings/cors', ADMIN_TOKEN, { origins: [] })).status,
        403,
      );
    });
  });
}
