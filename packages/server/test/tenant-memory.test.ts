/**
 * A deleted tenant leaves nothing of itself in the process's memory: its request and
 * telemetry rate buckets and usage, its principals' and devices' buckets, the sign-in buckets
 * of its slug, its remembered DPoP proofs (here and in the store every process shares), its
 * cached revocations and CORS allow-list, its policy state and the policy set in the Cedar engine are all dropped at the deletion, while another tenant's stay (both seen on /metrics). A preflight
 * from the deleted tenant's origin is refused at once, not when the cache expires (caches are
 * kept for an hour here).
 */
import assert from 'node:assert/strict';
import { hash, randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { exportJWK, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { ADMIN_TOKEN } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { dpopProofRows } from './support/dpop-proof-rows.ts';
import { OidcPlatform } from './support/oidc-platform.ts';

/** What the process holds of tenants, from /metrics. */
async function held(api: OidcPlatform): Promise<Record<string, number>> {
  const text = String((await api.call('GET', '/metrics', undefined)).body);
  const values: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const memory = /^palisade_tenant_memory_entries\{holder="([a-z_]+)"\} (\d+)$/.exec(line);
    if (memory !== null) values[memory[1]!] = Number(memory[2]);
    const buckets =
      /^(palisade_rate_limit_principal_buckets|palisade_quota_device_buckets) (\d+)$/.exec(line);
    if (buckets !== null) values[buckets[1]!] = Number(buckets[2]);
  }
  return values;
}

for (const backend of backendNames()) {
  describe(`a deleted tenant's memory on ${backend}`, () => {
    test("is forgotten at the deletion, and another tenant's is kept", async (t) => {
      const api = await OidcPlatform.start(backend, {
        authCacheTtlMs: '3600000',
        quotaTenantRequestsPerSecond: ['*=1000'],
        quotaPrincipalRequestsPerSecond: ['*=1000'],
      });
      t.after(() => api.close());
      /** The origin a preflight from `origin` is allowed for, or null. */
      const preflight = async (origin: string) =>
        (
          await api.call('OPTIONS', '/v1/collections', undefined, undefined, {
            origin,
            'access-control-request-method': 'POST',
          })
        ).headers.get('access-control-allow-origin');

      /** Uses every per-tenant part of the process as the tenant's clients would. */
      const use = async (tenant: { slug: string; key: string }) => {
        const policies = await api.call('PUT', '/v1/policies', tenant.key, {
          policies: 'permit (principal, action, resource);',
        });
        assert.equal(policies.status, 200, JSON.stringify(policies.body));
        const origin = `https://${tenant.slug}.example`;
        const cors = await api.call('PUT', '/v1/settings/cors', tenant.key, { origins: [origin] });
        assert.equal(cors.status, 200, JSON.stringify(cors.body));
        const fromApp = await api.call('GET', '/v1/collections', tenant.key, undefined, { origin });
        assert.equal(fromApp.headers.get('access-control-allow-origin'), origin);
        assert.equal(await preflight(origin), origin);

        const device = await api.call('POST', '/v1/devices', tenant.key, { name: 'meter' });
        assert.equal(device.status, 201, JSON.stringify(device.body));
        const sent = await api.call(
          'POST',
          `/api/v1/${device.body.credentials.token}/telemetry`,
          undefined,
          { ts: Date.now(), values: { k: 1 } },
        );
        assert.equal(sent.status, 200, JSON.stringify(sent.body));

        const signIn = await fetch(`${api.url}/t/${tenant.slug}/invite/${'x'.repeat(43)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'password=a+long+enough+passphrase&confirm=a+long+enough+passphrase',
        });
        assert.notEqual(signIn.status, 429);

        const config = await api.configuration(
          await api.client(tenant.key, { name: 'bound', kind: 'service', roles: ['viewer'] }),
        );
        const keys = await oidc.randomDPoPKeyPair('EdDSA');
        const { access_token: token } = await oidc.clientCredentialsGrant(config, undefined, {
          DPoP: oidc.getDPoPHandle(config, keys),
        });
        const proof = await new SignJWT({
          htm: 'GET',
          htu: `${api.url}/v1/collections`,
          jti: randomUUID(),
          ath: hash('sha256', token, 'base64url'),
        })
          .setProtectedHeader({
            alg: 'EdDSA',
            typ: 'dpop+jwt',
            jwk: await exportJWK(keys.publicKey),
          })
          .setIssuedAt()
          .sign(keys.privateKey);
        const bound = await api.call('GET', '/v1/collections', undefined, undefined, {
          authorization: `DPoP ${token}`,
          dpop: proof,
        });
        assert.equal(bound.status, 200, JSON.stringify(bound.body));
      };

      const kept = await api.tenant('kept');
      const gone = await api.tenant('gone');
      await use(kept);
      const keptOnly = await held(api);
      await use(gone);
      const both = await held(api);
      for (const [holder, count] of Object.entries(keptOnly))
        assert.ok(both[holder]! > count, `${holder} holds the second tenant's too`);
      for (const holder of [
        'request_quotas',
        'telemetry_quotas',
        'sign_in_buckets',
        'dpop_proofs',
        'revocation_lists',
        'cors_lists',
        'authorizer',
        'palisade_rate_limit_principal_buckets',
        'palisade_quota_device_buckets',
      ])
        assert.ok(holder in keptOnly, `${holder} is on /metrics`);

      const proofsOf = async (tenant: { id: string }) =>
        (await dpopProofRows(api.fixture.settings, tenant.id)).length;
      assert.equal(await proofsOf(gone), 1, 'its proof is in the store every process shares');
      const deleted = await api.call('DELETE', `/v1/platform/tenants/${gone.id}`, ADMIN_TOKEN);
      assert.equal(deleted.status, 204);
      assert.deepEqual(await held(api), keptOnly, 'nothing of the deleted tenant is held');
      assert.equal(await proofsOf(gone), 0, 'nor kept in the shared store');
      assert.equal(await proofsOf(kept), 1);
      assert.equal(await preflight('https://gone.example'), null, 'its origin is refused at once');
      assert.equal(await preflight('https://kept.example'), 'https://kept.example');
    });

    test('tenants past authCacheMax push out only the least recently loaded policy state', async (t) => {
      const api = await OidcPlatform.start(backend, {
        authCacheTtlMs: '3600000',
        authCacheMax: '2',
      });
      t.after(() => api.close());
      for (const slug of ['first', 'second', 'third']) {
        const tenant = await api.tenant(slug);
        const listed = await api.call('GET', '/v1/collections', tenant.key);
        assert.equal(listed.status, 200, JSON.stringify(listed.body));
      }
      assert.equal((await held(api)).authorizer, 2, 'two of three are kept');
    });
  });
}
