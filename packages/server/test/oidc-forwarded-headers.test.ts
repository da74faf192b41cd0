/**
 * The tenant issuer behind a TLS-terminating proxy: its URLs come from the configured public
 * URL, never from request headers, and it takes the client's address and scheme from
 * X-Forwarded-* only when the request came from one of `trustedProxies`, as the gateway does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

const PUBLIC_URL = 'https://id.example.test';
const REDIRECT = 'https://app.example.test/callback';
/** What a client sends to pass for a proxy: another address, scheme and host. */
const FORWARDED = {
  'x-forwarded-for': '203.0.113.9',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'evil.example.test',
};

for (const backend of backendNames()) {
  for (const trusted of [false, true]) {
    describe(`issuer forwarded headers on ${backend}, ${trusted ? 'from a trusted proxy' : 'from a client'}`, () => {
      let api: TestApi;
      let tenantId: string;
      let clientId: string;

      before(async () => {
        // Fastify's inject comes from 127.0.0.1.
        api = await TestApi.start(backend, {
          publicUrl: PUBLIC_URL,
          ...(trusted ? { trustedProxies: ['127.0.0.1'] } : {}),
        });
        const acme = await api.tenant('acme');
        tenantId = acme.id;
        const client = await api.call('POST', '/v1/clients', acme.key, {
          name: 'Acme web',
          kind: 'user',
          redirectUris: [REDIRECT],
        });
        assert.equal(client.status, 201, JSON.stringify(client.body));
        clientId = client.body.id;
      });
      after(() => api.close());

      test('the discovery document is under the public URL whatever the headers say', async () => {
        const reply = await api.call(
          'GET',
          '/t/acme/.well-known/openid-configuration',
          undefined,
          undefined,
          FORWARDED,
        );
        assert.equal(reply.status, 200);
        assert.equal(reply.body.issuer, `${PUBLIC_URL}/t/acme`);
        for (const name of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'])
          assert.ok(reply.body[name].startsWith(`${PUBLIC_URL}/t/acme/`), reply.body[name]);
      });

      test(`the cookies are Secure only ${trusted ? 'as the proxy says' : 'over TLS'}`, async () => {
        const query = new URLSearchParams({
          client_id: clientId,
          response_type: 'code',
          redirect_uri: REDIRECT,
          scope: 'openid',
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
        });
        const reply = await api.call(
          'GET',
          `/t/acme/auth?${query}`,
          undefined,
          undefined,
          FORWARDED,
        );
        assert.equal(reply.status, 303, String(reply.body));
        const cookies = [reply.headers['set-cookie'] ?? []].flat().map(String);
        assert.ok(cookies.length > 0);
        for (const cookie of cookies)
          assert.equal(/;\s*secure/i.test(cookie), trusted, `${cookie}`);
      });

      test(`a device code records ${trusted ? 'the forwarded' : "the connection's"} address`, async () => {
        const reply = await api.call(
          'POST',
          '/t/acme/device/auth',
          undefined,
          new URLSearchParams({ client_id: clientId, scope: 'openid' }).toString(),
          { ...FORWARDED, 'content-type': 'application/x-www-form-urlencoded' },
        );
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        const artifact = await api.platform.stores.controlPlane.identity.findArtifact(
          tenantId,
          'DeviceCode',
          'id',
          reply.body.device_code,
        );
        const info = artifact?.payload.deviceInfo as { ip: string } | undefined;
        assert.equal(info?.ip, trusted ? '203.0.113.9' : '127.0.0.1');
      });
    });
  }
}
