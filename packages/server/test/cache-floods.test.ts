/**
 * Made-up names must not push real entries out of the caches that answer them: after ten
 * times as many made-up issuers (JWTs naming random tenants, requests to random `/t/{slug}`
 * paths) as the issuer cache keeps, a real tenant's token is still verified without reading
 * its issuer again (the lookup counter on /metrics); after as many preflights from made-up
 * origins, a real origin's preflight is still answered from the cache (its row, removed behind
 * the platform's back, is not read again). Caches are kept an hour.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { backendNames } from './support/backends.ts';
import { controlPlaneSql } from './support/control-plane-sql.ts';
import { OidcPlatform } from './support/oidc-platform.ts';

/** The caches' bounds here: found entries, and unknown ones apart. */
const CACHE_MAX = '100';
/** Ten times what either bound of a cache holds, and more than both together. */
const FLOOD = 1_001;

/** Removes `origin` from every tenant's CORS list, in the control plane, as its owner. */
async function removeOrigin(api: OidcPlatform, origin: string): Promise<void> {
  await controlPlaneSql(api.fixture.settings, 'DELETE FROM tenant_cors_origins WHERE origin = $1', [
    origin,
  ]);
}

for (const backend of backendNames()) {
  describe(`cache floods on ${backend}`, () => {
    test('made-up issuers and origins leave the real ones cached', async (t) => {
      const api = await OidcPlatform.start(backend, {
        authCacheTtlMs: '3600000',
        authCacheMax: CACHE_MAX,
        authCacheMissesMax: CACHE_MAX,
      });
      t.after(() => api.close());
      const inject = (options: { method: 'GET' | 'OPTIONS'; url: string; headers?: object }) =>
        api.platform.http.inject(options as never);
      const issuerLookups = async () => {
        const line = (await inject({ method: 'GET', url: '/metrics' })).body
          .split('\n')
          .find((row) => row.startsWith('palisade_issuer_store_lookups_total'));
        assert.ok(line !== undefined, 'the issuer lookup counter is exported');
        return Number(line.split(' ').at(-1));
      };
      const withToken = async (token: string) =>
        (
          await inject({
            method: 'GET',
            url: '/v1/collections',
            headers: { authorization: `Bearer ${token}` },
          })
        ).statusCode;
      const preflight = async (origin: string) =>
        (
          await inject({
            method: 'OPTIONS',
            url: '/v1/collections',
            headers: { origin, 'access-control-request-method': 'POST' },
          })
        ).headers['access-control-allow-origin'];

      const acme = await api.tenant('acme');
      const token = await api.serviceToken(acme.key);
      assert.equal(await withToken(token), 200);
      const origin = 'https://app.acme.example';
      assert.equal(
        (await api.call('PUT', '/v1/settings/cors', acme.key, { origins: [origin] })).status,
        200,
      );
      assert.equal(await preflight(origin), origin);

      const before = await issuerLookups();
      const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt' })).toString(
        'base64url',
      );
      for (let i = 0; i < FLOOD; i++) {
        const slug = `x${randomBytes(8).toString('hex')}`;
        if (i % 2 === 0) {
          const claims = Buffer.from(JSON.stringify({ iss: `${api.url}/t/${slug}` })).toString(
            'base64url',
          );
          assert.equal(await withToken(`${header}.${claims}.c2ln`), 401);
        } else {
          const reply = await inject({
            method: 'GET',
            url: `/t/${slug}/.well-known/openid-configuration`,
          });
          assert.equal(reply.statusCode, 404);
        }
      }
      const flooded = await issuerLookups();
      assert.equal(flooded - before, FLOOD, 'each made-up issuer was looked up once');
      assert.equal(await withToken(token), 200);
      assert.equal(await issuerLookups(), flooded, "the real tenant's issuer came from the cache");

      await removeOrigin(api, origin);
      for (let i = 0; i < FLOOD; i++)
        assert.equal(
          await preflight(`https://${randomBytes(8).toString('hex')}.example`),
          undefined,
        );
      assert.equal(await preflight(origin), origin, 'the real origin came from the cache');
    });
  });
}
