/**
 * A tenant suspended or deleted in one API process stops being served by another (same
 * PostgreSQL control plane, NATS between them) as soon as the notice arrives, not when the
 * other's caches expire: its API key and its access token, both cached there, are refused on
 * their next request; resuming serves them again. The caches are kept for an hour here, so
 * only the notice can end them. The notices about one tenant leave another tenant's cached
 * key alone (B never looks it up again); the deletion also drops the deleted tenant's rate
 * buckets on B.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_TOKEN } from './support/api.ts';
import { scaleOutConfigured } from './support/backends.ts';
import { twoApiPlatforms } from './support/oidc-platform.ts';

/** How long the notice may take to arrive, on a loaded machine; only bounds waiting. */
const NOTICE_WAIT_MS = 10_000;

describe('tenant lifecycle across API processes on postgres and NATS', {
  skip: !scaleOutConfigured(),
}, () => {
  test('a suspension, resumption or deletion in one process reaches the caches of another', async (t) => {
    const { a, b } = await twoApiPlatforms(t);
    const statusOnB = async (token: string) =>
      (
        await b.http.inject({
          method: 'GET',
          url: '/v1/collections',
          headers: { authorization: `Bearer ${token}` },
        })
      ).statusCode;
    /** Waits until B answers every credential with `status` (the notice arrived). */
    const untilB = async (tokens: readonly string[], status: number, what: string) => {
      const deadline = Date.now() + NOTICE_WAIT_MS;
      for (;;) {
        const statuses = await Promise.all(tokens.map(statusOnB));
        if (statuses.every((s) => s === status)) return;
        assert.ok(Date.now() < deadline, `${what}: B answered ${statuses.join(', ')}`);
        await sleep(20);
      }
    };

    /** B's control-plane lookups of bearer secrets so far. */
    const lookupsOnB = async () => {
      const metric = await b.http.inject({ method: 'GET', url: '/metrics' });
      const line = metric.body
        .split('\n')
        .find((row) => row.startsWith('palisade_credential_store_lookups_total'));
      return Number(line?.split(' ').at(-1));
    };

    const acme = await a.tenant('acme');
    const token = await a.serviceToken(acme.key);
    const both = [acme.key, token];
    for (const credential of both) assert.equal(await statusOnB(credential), 200, 'B caches it');
    // Another tenant, untouched by the notices about acme: its key stays in B's cache.
    const other = await a.tenant('other');
    const otherToken = await a.serviceToken(other.key);
    assert.equal(await statusOnB(other.key), 200);
    assert.equal(await statusOnB(otherToken), 200);
    const lookups = await lookupsOnB();
    /** Tenants whose request buckets B holds. */
    const requestQuotasOnB = async () => {
      const metric = await b.http.inject({ method: 'GET', url: '/metrics' });
      const line = metric.body
        .split('\n')
        .find((row) => row.startsWith('palisade_tenant_memory_entries{holder="request_quotas"}'));
      return Number(line?.split(' ').at(-1));
    };
    assert.equal(await requestQuotasOnB(), 2, "B holds both tenants' request buckets");

    const patch = (status: string) =>
      a.call('PATCH', `/v1/platform/tenants/${acme.id}`, ADMIN_TOKEN, { status });
    assert.equal((await patch('suspended')).status, 200);
    await untilB(both, 403, 'the suspension reaches B');
    assert.equal((await patch('active')).status, 200);
    await untilB(both, 200, 'the resumption reaches B');

    const deleted = await a.call('DELETE', `/v1/platform/tenants/${acme.id}`, ADMIN_TOKEN);
    assert.equal(deleted.status, 204);
    await untilB(both, 401, 'the deletion reaches B');
    assert.equal(await requestQuotasOnB(), 1, "B forgot the deleted tenant's request buckets");

    assert.equal(await statusOnB(other.key), 200);
    assert.equal(await statusOnB(otherToken), 200);
    assert.equal(
      await lookupsOnB(),
      lookups + 3,
      "B looked up acme's key again after each notice, and never the other tenant's",
    );
  });
});
