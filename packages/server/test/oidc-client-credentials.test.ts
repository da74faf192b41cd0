import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { backendNames } from './support/backends.ts';
import { OidcPlatform } from './support/oidc-platform.ts';

for (const backend of backendNames()) {
  describe(`client credentials through openid-client on ${backend}`, () => {
    let api: OidcPlatform;
    let acme: { id: string; slug: string; key: string };

    before(async () => {
      api = await OidcPlatform.start(backend);
      acme = await api.tenant('acme');
    });
    after(() => api.close());

    test('discovery names the tenant issuer, its JWKS and the grants', async () => {
      const reply = await api.call('GET', '/t/acme/.well-known/openid-configuration');
      assert.equal(reply.status, 200);
      assert.equal(reply.body.issuer, `${api.url}/t/acme`);
      assert.equal(reply.body.token_endpoint, `${api.url}/t/acme/token`);
      assert.deepEqual(reply.body.code_challenge_methods_supported, ['S256']);
      for (const grant of [
        'authorization_code',
        'client_credentials',
        'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code',
      ])
        assert.ok(reply.body.grant_types_supported.includes(grant), grant);
      const jwks = await api.call('GET', '/t/acme/jwks');
      assert.deepEqual(jwks.body.keys.map((k: { alg: string }) => k.alg).sort(), [
        'ES256',
        'EdDSA',
        'ML-DSA-44',
        'ML-DSA-65',
      ]);
      assert.ok(
        jwks.body.keys.every(
          (k: Record<string, unknown>) => k.d === undefined && k.priv === undefined,
        ),
      );
    });

    test('a service client gets a JWT access token and calls the API with its roles', async () => {
      const client = await api.client(acme.key, {
        name: 'reporting',
        kind: 'service',
        roles: ['viewer'],
      });
      assert.match(client.secret!, /^cs_/);
      const tokens = await oidc.clientCredentialsGrant(await api.configuration(client));
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      const [header, payload] = tokens.access_token
        .split('.')
        .slice(0, 2)
        .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
      assert.equal(header.alg, 'EdDSA');
      assert.equal(header.typ, 'at+jwt');
      assert.equal(payload.iss, `${api.url}/t/acme`);
      assert.equal(payload.aud, `${api.url}/v1`);
      assert.deepEqual(payload.roles, ['viewer']);
      const read = await api.call('GET', '/v1/collections', tokens.access_token);
      assert.equal(read.status, 200, JSON.stringify(read.body));
      const write = await api.call('PUT', '/v1/collections/notes', tokens.access_token, {
        schema: { type: 'object' },
      });
      assert.equal(write.status, 403);
      assert.equal(write.body.code, 'PALISADE_FORBIDDEN');
    });

    test("a service client may hold the tenant's custom roles, never an unknown one", async () => {
      const role = await api.call('PUT', '/v1/roles/auditor', acme.key, {
        description: 'reads the ledger',
        permissions: ['ledger:read'],
      });
      assert.equal(role.status, 201, JSON.stringify(role.body));
      const client = await api.client(acme.key, {
        name: 'audit',
        kind: 'service',
        roles: ['auditor'],
      });
      const tokens = await oidc.clientCredentialsGrant(await api.configuration(client));
      assert.equal(
        (await api.call('GET', '/v1/ledger/checkpoint', tokens.access_token)).status,
        200,
      );
      const refused = await api.call('GET', '/v1/collections', tokens.access_token);
      assert.equal(refused.body.code, 'PALISADE_FORBIDDEN');
      const unknown = await api.call('POST', '/v1/clients', acme.key, {
        name: 'x',
        kind: 'service',
        roles: ['no-such-role'],
      });
      assert.equal(unknown.status, 422);
      assert.equal(unknown.body.code, 'PALISADE_UNKNOWN_ROLE');
    });

    test('a client can ask for ML-DSA-signed access tokens', async () => {
      const client = await api.client(acme.key, {
        name: 'pq',
        kind: 'service',
        roles: ['owner'],
        tokenAlgorithm: 'ML-DSA-65',
      });
      const tokens = await oidc.clientCredentialsGrant(await api.configuration(client));
      const header = JSON.parse(
        Buffer.from(tokens.access_token.split('.')[0]!, 'base64url').toString(),
      );
      assert.equal(header.alg, 'ML-DSA-65');
      const reply = await api.call('GET', '/v1/collections', tokens.access_token);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
    });

    test('rotating the issuer keys: new tokens use new keys, earlier tokens stay valid', async () => {
      const client = await api.client(acme.key, { name: 'r', kind: 'service', roles: ['viewer'] });
      const config = await api.configuration(client);
      const kid = (token: string) =>
        JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;
      const before = (await oidc.clientCredentialsGrant(config)).access_token;
      const rotated = await api.call('POST', '/v1/issuer/keys/rotate', acme.key);
      assert.equal(rotated.status, 204);
      const afterwards = (await oidc.clientCredentialsGrant(config)).access_token;
      assert.notEqual(kid(afterwards), kid(before));
      const jwks = await api.call('GET', '/t/acme/jwks');
      const kids = jwks.body.keys.map((k: { kid: string }) => k.kid);
      assert.ok(kids.includes(kid(before)) && kids.includes(kid(afterwards)));
      assert.equal(
        jwks.body.keys.length,
        8,
        'four algorithms, the retired keys until their grace ends',
      );
      for (const token of [before, afterwards])
        assert.equal((await api.call('GET', '/v1/collections', token)).status, 200);
    });

    test('an unknown tenant has no issuer', async () => {
      const unknown = await api.call('GET', '/t/nobody/.well-known/openid-configuration');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.code, 'PALISADE_TENANT_NOT_FOUND');
    });
  });
}
