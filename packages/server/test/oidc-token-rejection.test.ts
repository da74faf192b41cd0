import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { importJWK, type JWTPayload, SignJWT } from 'jose';
import { openPlatformKms } from '../src/keys/index.ts';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

interface Tenant {
  readonly id: string;
  readonly slug: string;
  readonly key: string;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as JWTPayload;

for (const backend of backendNames()) {
  describe(`access tokens the gateway refuses, on ${backend}`, () => {
    let api: TestApi;
    let acme: Tenant;
    let globex: Tenant;
    let service: { id: string; secret: string };

    async function tenant(slug: string): Promise<Tenant> {
      const { id, key } = await api.tenant(slug);
      return { id, slug, key };
    }

    /** A form POST to an issuer endpoint, authenticated as `client` (HTTP Basic). */
    function asClient(client: { id: string; secret: string }, path: string, form: string) {
      return api.call('POST', path, undefined, form, {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
      });
    }

    /** A token by the client credentials grant at the tenant's token endpoint. */
    async function issue(slug: string, client: { id: string; secret: string }): Promise<string> {
      const reply = await asClient(client, `/t/${slug}/token`, 'grant_type=client_credentials');
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return reply.body.access_token;
    }

    /** Signs `claims` with the tenant issuer's own EdDSA key, as only the issuer could. */
    async function forge(of: Tenant, claims: JWTPayload, header: Record<string, unknown> = {}) {
      const kms = await openPlatformKms(api.fixture.settings);
      const row = (await api.platform.stores.controlPlane.identity.listKeys(of.id)).find(
        (key) => key.alg === 'EdDSA' && key.retiredAt === null,
      )!;
      const opened = await kms.open(
        {
          purpose: 'palisade/oidc-issuer-key',
          tenantId: of.id,
          keyVersion: 1,
          binding: Buffer.from(row.kid),
        },
        row.sealedPrivate,
      );
      const key = await importJWK(JSON.parse(Buffer.from(opened).toString()), 'EdDSA');
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: row.kid, ...header })
        .sign(key);
    }

    async function refused(token: string, code: string): Promise<void> {
      const reply = await api.call('GET', '/v1/collections', token);
      assert.equal(reply.status, code === 'PALISADE_TENANT_SUSPENDED' ? 403 : 401);
      assert.equal(reply.body.code, code, reply.body.detail);
      if (reply.status === 401)
        assert.equal(reply.headers['www-authenticate'], 'Bearer error="invalid_token"');
    }

    before(async () => {
      api = await TestApi.start(backend, { telemetryStreamHeartbeatMs: '1000' });
      acme = await tenant('acme');
      globex = await tenant('globex');
      const created = await api.call('POST', '/v1/clients', acme.key, {
        name: 'svc',
        kind: 'service',
        roles: ['owner'],
      });
      service = { id: created.body.id, secret: created.body.secret };
    });
    after(() => api.close());

    test('a genuine token is accepted (the baseline every case below changes one thing of)', async () => {
      const token = await issue('acme', service);
      assert.equal((await api.call('GET', '/v1/collections', token)).status, 200);
      const forged = await forge(acme, claimsOf(token));
      assert.equal((await api.call('GET', '/v1/collections', forged)).status, 200);
    });

    test("another tenant's token: its key does not sign for this issuer", async () => {
      const globexClient = await api.call('POST', '/v1/clients', globex.key, {
        name: 'svc',
        kind: 'service',
        roles: ['owner'],
      });
      const theirs = await issue('globex', {
        id: globexClient.body.id,
        secret: globexClient.body.secret,
      });
      const claims = claimsOf(theirs);
      const passedOff = await forge(globex, {
        ...claims,
        iss: claimsOf(await issue('acme', service)).iss,
      });
      await refused(passedOff, 'PALISADE_TOKEN_SIGNATURE_INVALID');
      const reply = await api.call('GET', '/v1/collections', theirs);
      assert.equal(reply.status, 200, "globex's token works, for globex");
    });

    test('expired, not yet valid, wrong audience', async () => {
      const claims = claimsOf(await issue('acme', service));
      const now = Math.floor(Date.now() / 1000);
      await refused(
        await forge(acme, { ...claims, iat: now - 7200, exp: now - 3600 }),
        'PALISADE_TOKEN_EXPIRED',
      );
      await refused(
        await forge(acme, { ...claims, nbf: now + 3600 }),
        'PALISADE_TOKEN_NOT_YET_VALID',
      );
      await refused(
        await forge(acme, { ...claims, aud: 'https://other.example/api' }),
        'PALISADE_TOKEN_AUDIENCE_MISMATCH',
      );
    });

    test('alg none, and HS256 keyed with the public key, are refused before any key is used', async () => {
      const claims = claimsOf(await issue('acme', service));
      await refused(
        `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims)}.`,
        'PALISADE_TOKEN_ALGORITHM_REFUSED',
      );
      const jwks = await api.call('GET', '/t/acme/jwks', undefined);
      const publicPem = createPublicKey({
        key: jwks.body.keys.find((k: { alg: string }) => k.alg === 'EdDSA'),
        format: 'jwk',
      }).export({ type: 'spki', format: 'pem' });
      const hs256 = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .sign(new Uint8Array(Buffer.from(publicPem)));
      await refused(hs256, 'PALISADE_TOKEN_ALGORITHM_REFUSED');
    });

    test('a tampered payload breaks the signature', async () => {
      const token = await issue('acme', service);
      const [header, , signature] = token.split('.');
      const claims = { ...claimsOf(token), roles: ['owner', 'admin'], client_id: 'someone-else' };
      await refused(`${header}.${b64(claims)}.${signature}`, 'PALISADE_TOKEN_SIGNATURE_INVALID');
    });

    test('a token from an issuer that is no tenant of this platform', async () => {
      const claims = claimsOf(await issue('acme', service));
      await refused(
        await forge(acme, { ...claims, iss: 'https://evil.example/t/acme' }),
        'PALISADE_TOKEN_ISSUER_UNKNOWN',
      );
      await refused(
        await forge(acme, { ...claims, iss: `${claims.iss}x` }),
        'PALISADE_TOKEN_ISSUER_UNKNOWN',
      );
    });

    test('revoked at the revocation endpoint (RFC 7009): refused at once', async () => {
      const token = await issue('acme', service);
      const reply = await asClient(service, '/t/acme/token/revocation', `token=${token}`);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      await refused(token, 'PALISADE_TOKEN_REVOKED');
      const introspected = await asClient(service, '/t/acme/token/introspection', `token=${token}`);
      assert.deepEqual(introspected.body, { active: false });
    });

    test('a revocation lasts as long as the gateway accepts the token: its exp and the 5 s of clock skew', async () => {
      // What another process, or this one once its cache has expired, reads of the revocations.
      const listed = async (exp: number, value: string) =>
        (
          await api.platform.stores.controlPlane.identity.listRevocations(acme.id, (exp + 4) * 1000)
        ).some((revocation) => revocation.value === value);
      const token = await issue('acme', service);
      const { exp, jti } = claimsOf(token);
      await asClient(service, '/t/acme/token/revocation', `token=${token}`);
      assert.ok(await listed(exp!, jti!), 'a token revoked at the revocation endpoint');
      const created = await api.call('POST', '/v1/clients', acme.key, {
        name: 'gone',
        kind: 'service',
        roles: ['viewer'],
      });
      const theirs = claimsOf(
        await issue('acme', { id: created.body.id, secret: created.body.secret }),
      );
      await api.call('DELETE', `/v1/clients/${created.body.id}`, acme.key);
      assert.ok(await listed(theirs.exp!, created.body.id), "a deleted client's token");
    });

    test('a telemetry stream opened with a token ends once the token is revoked', async () => {
      const token = await issue('acme', service);
      await api.http.listen({ host: '127.0.0.1', port: 0 });
      const { port } = api.http.server.address() as { port: number };
      const response = await fetch(`http://127.0.0.1:${port}/v1/telemetry/stream`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /connected/);
      const reply = await asClient(service, '/t/acme/token/revocation', `token=${token}`);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      // Ends (else the test times out) without waiting for any event.
      while (!(await reader.read()).done);
    });

    test('introspection (RFC 7662) describes a live token to its own client only', async () => {
      const token = await issue('acme', service);
      const own = await asClient(service, '/t/acme/token/introspection', `token=${token}`);
      assert.equal(own.body.active, true);
      assert.equal(own.body.client_id, service.id);
      assert.deepEqual(own.body.roles, ['owner']);
      const other = await api.call('POST', '/v1/clients', acme.key, {
        name: 'o',
        kind: 'service',
        roles: ['viewer'],
      });
      const foreign = await asClient(other.body, '/t/acme/token/introspection', `token=${token}`);
      assert.deepEqual(foreign.body, { active: false });
    });

    test("deleting a client revokes its tokens; a suspended tenant's tokens stop", async () => {
      const created = await api.call('POST', '/v1/clients', acme.key, {
        name: 'doomed',
        kind: 'service',
        roles: ['viewer'],
      });
      const token = await issue('acme', { id: created.body.id, secret: created.body.secret });
      assert.equal(
        (await api.call('DELETE', `/v1/clients/${created.body.id}`, acme.key)).status,
        204,
      );
      await refused(token, 'PALISADE_TOKEN_REVOKED');
      const live = await issue('acme', service);
      await api.call('PATCH', `/v1/platform/tenants/${acme.id}`, ADMIN_TOKEN, {
        status: 'suspended',
      });
      await refused(live, 'PALISADE_TENANT_SUSPENDED');
      const issuer = await api.call('GET', '/t/acme/.well-known/openid-configuration', undefined);
      assert.equal(issuer.body.code, 'PALISADE_TENANT_SUSPENDED');
      await api.call('PATCH', `/v1/platform/tenants/${acme.id}`, ADMIN_TOKEN, { status: 'active' });
      assert.equal((await api.call('GET', '/v1/collections', live)).status, 200);
    });

    test('deleting a tenant shreds its issuer: its tokens name an unknown issuer, its keys are gone', async () => {
      const created = await api.call('POST', '/v1/clients', globex.key, {
        name: 'last',
        kind: 'service',
        roles: ['viewer'],
      });
      const token = await issue('globex', { id: created.body.id, secret: created.body.secret });
      const deleted = await api.call('DELETE', `/v1/platform/tenants/${globex.id}`, ADMIN_TOKEN);
      assert.equal(deleted.status, 204);
      await refused(token, 'PALISADE_TOKEN_ISSUER_UNKNOWN');
      assert.deepEqual(await api.platform.stores.controlPlane.identity.listKeys(globex.id), []);
      const issuer = await api.call('GET', '/t/globex/jwks', undefined);
      assert.equal(issuer.body.code, 'PALISADE_TENANT_NOT_FOUND');
    });

    test('every client change is in the ledger', async () => {
      const entries = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', acme.key);
      const actions = entries.body.entries.map(
        (e: { entry: { action: string } }) => e.entry.action,
      );
      assert.ok(actions.includes('oidc-keys.create'));
      assert.ok(actions.includes('client.create'));
      assert.ok(actions.includes('client.delete'));
    });
  });
}
