/**
 * A DPoP proof is accepted once by the whole platform (RFC 9449 §11.1), not once by each API
 * process: on PostgreSQL and NATS a proof one process accepted is refused by another running
 * beside it; on both backends one accepted before a restart is refused by the process started
 * next on the same stores (a SQLite data folder has one server at a time). Fresh proofs are
 * accepted by every process.
 */
import assert from 'node:assert/strict';
import { hash, randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { exportJWK, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { type Platform, startPlatform } from '../src/index.ts';
import { backendNames, scaleOutConfigured } from './support/backends.ts';
import { OidcPlatform, twoApiPlatforms } from './support/oidc-platform.ts';

/** A DPoP-bound token of a new service client of a new tenant, and proofs for GET /v1/collections. */
async function boundToken(api: OidcPlatform) {
  const acme = await api.tenant('acme');
  const config = await api.configuration(
    await api.client(acme.key, { name: 'bound', kind: 'service', roles: ['viewer'] }),
  );
  const keys = await oidc.randomDPoPKeyPair('EdDSA');
  const { access_token: token } = await oidc.clientCredentialsGrant(config, undefined, {
    DPoP: oidc.getDPoPHandle(config, keys),
  });
  const jwk = await exportJWK(keys.publicKey);
  const proof = () =>
    new SignJWT({
      htm: 'GET',
      htu: `${api.url}/v1/collections`,
      jti: randomUUID(),
      ath: hash('sha256', token, 'base64url'),
    })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'dpop+jwt', jwk })
      .setIssuedAt()
      .sign(keys.privateKey);
  return { token, proof };
}

/** GET /v1/collections on `platform` with the bound token and `proof`: status and error code. */
async function collections(platform: Platform, token: string, proof: string) {
  const reply = await platform.http.inject({
    method: 'GET',
    url: '/v1/collections',
    headers: { authorization: `DPoP ${token}`, dpop: proof },
  });
  return { status: reply.statusCode, code: reply.json().code as string | undefined };
}

const USED = { status: 401, code: 'PALISADE_DPOP_PROOF_INVALID' };
const OK = { status: 200, code: undefined };

for (const backend of backendNames()) {
  describe(`DPoP proofs over a restart on ${backend}`, () => {
    test('a proof accepted before the restart is refused after it; a fresh one is accepted', async (t) => {
      const before = await OidcPlatform.start(backend);
      let after: Platform | undefined;
      t.after(async () => {
        await after?.close();
        await before.close();
      });
      const { token, proof } = await boundToken(before);
      const accepted = await proof();
      assert.deepEqual(await collections(before.platform, token, accepted), OK);
      await before.platform.close();

      after = await startPlatform(
        { ...before.fixture.settings, publicUrl: before.url },
        { listen: false },
      );
      assert.deepEqual(await collections(after, token, accepted), USED, 'a replay');
      assert.deepEqual(await collections(after, token, await proof()), OK);
    });
  });
}

describe('DPoP proofs across API processes on postgres and NATS', {
  skip: !scaleOutConfigured(),
}, () => {
  test('a proof one process accepted is refused by the other; fresh ones are accepted by both', async (t) => {
    const { a, b } = await twoApiPlatforms(t);
    const { token, proof } = await boundToken(a);

    const toA = await proof();
    assert.deepEqual(await collections(a.platform, token, toA), OK);
    assert.deepEqual(await collections(b, token, toA), USED, 'replayed to the other process');
    const toB = await proof();
    assert.deepEqual(await collections(b, token, toB), OK);
    assert.deepEqual(await collections(a.platform, token, toB), USED, 'and the other way');
    for (const platform of [a.platform, b, a.platform, b])
      assert.deepEqual(await collections(platform, token, await proof()), OK);
  });
});
