import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalKms, MasterKey } from '@palisade/crypto';
import { SERVICE_TOKEN_MAX_LIFETIME_MS, ServiceTokens } from '../src/internal/index.ts';

const kms = new LocalKms(MasterKey.generate());
const sender = { role: 'api', pid: 'host/1/abcd' };
const tokens = new ServiceTokens(kms, sender, 30_000);
const subject = '_palisade_internal.palisade.rpc.deliver.t.d';
const payload = Buffer.from('{"rpcId":"x"}');
const message = { subject, payload, roles: ['api'] };
const NOW = 1_800_000_000_000;

function part(token: string, index: number): string {
  return token.split('.')[index]!;
}

/** The token with its claims replaced (the MAC left as it was). */
function withClaims(token: string, change: Record<string, unknown>): string {
  const claims = JSON.parse(Buffer.from(part(token, 1), 'base64url').toString()) as object;
  const body = Buffer.from(JSON.stringify({ ...claims, ...change })).toString('base64url');
  return `v1.${body}.${part(token, 2)}`;
}

describe('service tokens', () => {
  it('verify for their message, naming the sender', async () => {
    const token = await tokens.sign(subject, payload, NOW);
    const check = await tokens.verify(token, message, NOW + 1000);
    assert.ok(check.ok);
    assert.equal(check.claims.role, 'api');
    assert.equal(check.claims.pid, 'host/1/abcd');
    assert.equal(check.claims.kid, kms.keyId);
    assert.equal(check.claims.exp - check.claims.iat, 30_000);
  });

  it('refuse a missing or malformed token', async () => {
    for (const [token, reason] of [
      [undefined, 'missing'],
      ['', 'missing'],
      ['v1.abc', 'malformed'],
      ['v2.e30.AAAA', 'malformed'],
      [`v1.${Buffer.from('not json').toString('base64url')}.AAAA`, 'malformed'],
      [`v1.${Buffer.from('{"kid":1}').toString('base64url')}.AAAA`, 'malformed'],
    ] as const) {
      assert.deepEqual(await tokens.verify(token, message, NOW), { ok: false, reason });
    }
  });

  it('refuse every tampered claim by its MAC', async () => {
    const token = await tokens.sign(subject, payload, NOW);
    for (const change of [
      { role: 'worker' },
      { pid: 'other' },
      { exp: NOW + 59_000 },
      { iat: NOW + 1 },
      { sub: `${subject}x` },
      { sha: 'AAAA' },
      { jti: 'AAAAAAAAAAAAAAAA' },
    ]) {
      const check = await tokens.verify(withClaims(token, change), message, NOW);
      assert.deepEqual(check, { ok: false, reason: 'signature' }, JSON.stringify(change));
    }
    const mac = Buffer.from(part(token, 2), 'base64url');
    mac[0]! ^= 1;
    const flipped = `v1.${part(token, 1)}.${mac.toString('base64url')}`;
    assert.deepEqual(await tokens.verify(flipped, message, NOW), {
      ok: false,
      reason: 'signature',
    });
  });

  it('refuse a token of another master key, by key id and by MAC', async () => {
    const other = new LocalKms(MasterKey.generate());
    const token = await new ServiceTokens(other, sender, 30_000).sign(subject, payload, NOW);
    assert.deepEqual(await tokens.verify(token, message, NOW), { ok: false, reason: 'key' });
    const relabelled = withClaims(token, { kid: kms.keyId });
    assert.deepEqual(await tokens.verify(relabelled, message, NOW), {
      ok: false,
      reason: 'signature',
    });
  });

  it('refuse an expired token, one from the future and one living too long', async () => {
    const token = await tokens.sign(subject, payload, NOW);
    assert.ok((await tokens.verify(token, message, NOW + 29_999)).ok);
    assert.deepEqual(await tokens.verify(token, message, NOW + 30_000), {
      ok: false,
      reason: 'expired',
    });
    assert.deepEqual(await tokens.verify(token, message, NOW - 60_000), {
      ok: false,
      reason: 'lifetime',
    });
    assert.throws(
      () => new ServiceTokens(kms, sender, SERVICE_TOKEN_MAX_LIFETIME_MS + 1),
      RangeError,
    );
  });

  it('refuse a token moved to another subject or payload, or from a role not allowed', async () => {
    const token = await tokens.sign(subject, payload, NOW);
    const moved = { ...message, subject: '_palisade_internal.palisade.keys.job' };
    assert.deepEqual(await tokens.verify(token, moved, NOW), { ok: false, reason: 'subject' });
    const changed = { ...message, payload: Buffer.from('{"rpcId":"y"}') };
    assert.deepEqual(await tokens.verify(token, changed, NOW), { ok: false, reason: 'payload' });
    const ingestOnly = { ...message, roles: ['ingest'] };
    assert.deepEqual(await tokens.verify(token, ingestOnly, NOW), { ok: false, reason: 'role' });
  });
});
