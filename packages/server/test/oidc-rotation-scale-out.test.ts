/**
 * A tenant issuer's key rotation in one API process, seen by another on the same PostgreSQL
 * control plane (and NATS, as scale-out runs): the other process caches the issuer's keys for authCacheTtlMs (an hour
 * here), yet accepts the first token the new keys sign, and refuses a made-up key id.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { scaleOutConfigured } from './support/backends.ts';
import { twoApiPlatforms } from './support/oidc-platform.ts';

const kidOf = (token: string): string =>
  JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid;

/** `token` with its header's `kid` replaced (its signature then verifies with no key). */
function withKid(token: string, kid: string): string {
  const [header, ...rest] = token.split('.');
  const decoded = JSON.parse(Buffer.from(header!, 'base64url').toString());
  return [Buffer.from(JSON.stringify({ ...decoded, kid })).toString('base64url'), ...rest].join(
    '.',
  );
}

describe('issuer key rotation across API processes on postgres and NATS', {
  skip: !scaleOutConfigured(),
}, () => {
  test('another process accepts the first token signed by keys rotated elsewhere', async (t) => {
    const { a, b } = await twoApiPlatforms(t);
    const callB = async (token: string) => {
      const reply = await b.http.inject({
        method: 'GET',
        url: '/v1/collections',
        headers: { authorization: `Bearer ${token}` },
      });
      return { status: reply.statusCode, body: reply.json() };
    };

    const acme = await a.tenant('acme');
    const client = await a.client(acme.key, { name: 'r', kind: 'service', roles: ['viewer'] });
    const config = await a.configuration(client);
    const before = (await oidc.clientCredentialsGrant(config)).access_token;
    assert.equal((await callB(before)).status, 200, 'B has cached the issuer and its keys');

    assert.equal((await a.call('POST', '/v1/issuer/keys/rotate', acme.key)).status, 204);
    const afterwards = (await oidc.clientCredentialsGrant(config)).access_token;
    assert.notEqual(kidOf(afterwards), kidOf(before), 'signed by a key B has not seen');
    const accepted = await callB(afterwards);
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal((await callB(before)).status, 200, 'the retired key still verifies');

    const madeUp = await callB(withKid(afterwards, 'made-up'));
    assert.equal(madeUp.status, 401);
    assert.equal(madeUp.body.code, 'PALISADE_TOKEN_SIGNATURE_INVALID');
  });
});
