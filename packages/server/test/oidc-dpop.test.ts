import assert from 'node:assert/strict';
import { hash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { backendNames } from './support/backends.ts';
import { OidcPlatform } from './support/oidc-platform.ts';

type KeyPair = Awaited<ReturnType<typeof oidc.randomDPoPKeyPair>>;

for (const backend of backendNames()) {
  describe(`DPoP-bound access tokens (RFC 9449) on ${backend}`, () => {
    let api: OidcPlatform;
    let config: oidc.Configuration;
    let keys: KeyPair;
    let token: string;

    /** A proof signed with `signer` for `method url` and the token. */
    async function proof(
      method: string,
      url: string,
      signer: KeyPair = keys,
      accessToken = token,
    ): Promise<string> {
      return new SignJWT({
        htm: method,
        htu: url,
        jti: randomUUID(),
        ath: hash('sha256', accessToken, 'base64url'),
      })
        .setProtectedHeader({
          alg: 'EdDSA',
          typ: 'dpop+jwt',
          jwk: await exportJWK(signer.publicKey),
        })
        .setIssuedAt()
        .sign(signer.privateKey);
    }

    async function collections(headers: Record<string, string>) {
      return api.call('GET', '/v1/collections', undefined, undefined, headers);
    }

    before(async () => {
      api = await OidcPlatform.start(backend);
      const acme = await api.tenant('acme');
      config = await api.configuration(
        await api.client(acme.key, { name: 'bound', kind: 'service', roles: ['viewer'] }),
      );
      keys = await oidc.randomDPoPKeyPair('EdDSA');
      const tokens = await oidc.clientCredentialsGrant(config, undefined, {
        DPoP: oidc.getDPoPHandle(config, keys),
      });
      assert.equal(tokens.token_type.toLowerCase(), 'dpop');
      token = tokens.access_token;
    });
    after(() => api.close());

    test("openid-client calls the API with the bound token and its key's proofs", async () => {
      const response = await oidc.fetchProtectedResource(
        config,
        token,
        new URL(`${api.url}/v1/collections`),
        'GET',
        undefined,
        undefined,
        { DPoP: oidc.getDPoPHandle(config, keys) },
      );
      assert.equal(response.status, 200, await response.text());
    });

    test('a bound token is refused without a proof, as a bearer token, or with a bad proof', async () => {
      const url = `${api.url}/v1/collections`;
      const refusals: [string, Record<string, string>][] = [
        ['as a bearer token', { authorization: `Bearer ${token}` }],
        ['without a proof', { authorization: `DPoP ${token}` }],
        [
          'with a proof for another URL',
          { authorization: `DPoP ${token}`, dpop: await proof('GET', `${api.url}/v1/keys`) },
        ],
        [
          'with a proof for another method',
          { authorization: `DPoP ${token}`, dpop: await proof('POST', url) },
        ],
        [
          'with a proof by another key',
          {
            authorization: `DPoP ${token}`,
            dpop: await proof('GET', url, await oidc.randomDPoPKeyPair('EdDSA')),
          },
        ],
        [
          'with a proof for another token',
          { authorization: `DPoP ${token}`, dpop: await proof('GET', url, keys, `${token}x`) },
        ],
      ];
      for (const [what, headers] of refusals) {
        const reply = await collections(headers);
        assert.equal(reply.status, 401, what);
        assert.equal(reply.body.code, 'PALISADE_DPOP_PROOF_INVALID', what);
        assert.equal(reply.headers.get('www-authenticate'), 'DPoP error="invalid_dpop_proof"');
      }
    });

    test('a proof works once', async () => {
      const headers = {
        authorization: `DPoP ${token}`,
        dpop: await proof('GET', `${api.url}/v1/collections`),
      };
      assert.equal((await collections(headers)).status, 200);
      const replayed = await collections(headers);
      assert.equal(replayed.body.code, 'PALISADE_DPOP_PROOF_INVALID');
      assert.match(replayed.body.detail, /used before/);
      const metrics = (await api.call('GET', '/metrics')).body as string;
      assert.match(metrics, /^palisade_dpop_proofs_refused_total 0$/m, 'the memory was not full');
    });

    test('introspection (RFC 7662) says a bound token is DPoP, not one a bearer may use', async () => {
      const bound = await oidc.tokenIntrospection(config, token);
      assert.equal(bound.active, true);
      assert.equal(bound.token_type, 'DPoP');
      assert.equal(bound.cnf?.jkt, await calculateJwkThumbprint(await exportJWK(keys.publicKey)));
      const bearer = (await oidc.clientCredentialsGrant(config)).access_token;
      assert.equal((await oidc.tokenIntrospection(config, bearer)).token_type, 'Bearer');
    });

    test('an unbound token is not accepted under the DPoP scheme', async () => {
      const bearer = (await oidc.clientCredentialsGrant(config)).access_token;
      const reply = await collections({
        authorization: `DPoP ${bearer}`,
        dpop: await proof('GET', `${api.url}/v1/collections`, keys, bearer),
      });
      assert.equal(reply.body.code, 'PALISADE_DPOP_PROOF_INVALID');
      assert.equal((await collections({ authorization: `Bearer ${bearer}` })).status, 200);
    });
  });
}
