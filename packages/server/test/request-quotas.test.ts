import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import {
  planLimits,
  RateLimitedError,
  type RateLimitFields,
  RequestQuotas,
} from '../src/quotas/index.ts';
import { issueTenantContext } from '../src/tenancy/tenant-context.ts';

function context(tenant: string, key = 'k1', plan = 'free') {
  const now = '2026-01-01T00:00:00.000Z';
  return issueTenantContext(
    {
      id: tenant,
      slug: tenant,
      name: tenant,
      plan,
      status: 'active',
      shard: 's1',
      createdAt: now,
      updatedAt: now,
    },
    { kind: 'api-key', id: `api-key:${tenant}-${key}` },
  );
}

/** Request quotas on a fake clock: `clock.now` is what the buckets see. */
function quotas(tenant: string[], principal: string[], maxBuckets = 1000) {
  const clock = { now: 1_000_000 };
  const metrics = new Registry();
  const q = new RequestQuotas({
    limitsOf: planLimits({
      quotaTenantMessagesPerSecond: ['*=0'],
      quotaTenantPointsPerSecond: ['*=0'],
      quotaDeviceMessagesPerSecond: ['*=0'],
      quotaDevicePointsPerSecond: ['*=0'],
      quotaTenantRequestsPerSecond: tenant,
      quotaPrincipalRequestsPerSecond: principal,
      quotaDevicesMax: ['*=0'],
      quotaCollectionsMax: ['*=0'],
      quotaTelemetryStreamsMax: ['*=0'],
      quotaBurstSeconds: 2,
    }),
    maxBuckets,
    usageWindowMs: 60_000,
    clock: () => clock.now,
    metrics,
  });
  return { q, clock, metrics };
}

function admitted(result: ReturnType<RequestQuotas['admit']>): RateLimitFields {
  assert.ok(result !== undefined && !(result instanceof RateLimitedError), 'expected admission');
  return result;
}

function refused(result: ReturnType<RequestQuotas['admit']>): RateLimitedError {
  assert.ok(result instanceof RateLimitedError, 'expected PALISADE_RATE_LIMITED');
  return result;
}

test('a tenant bucket admits its capacity, refuses the next with 429 state, and refills', () => {
  const { q, clock } = quotas(['*=5'], ['*=0']);
  const a = context('a');
  for (let i = 0; i < 10; i++) admitted(q.admit(a));
  const error = refused(q.admit(a));
  assert.equal(error.code, 'PALISADE_RATE_LIMITED');
  assert.equal(error.status, 429);
  assert.deepEqual(error.quota, {
    reason: 'tenant_requests',
    quota: 10,
    windowSeconds: 2,
    remaining: 0,
    retryAfterSeconds: 1,
  });
  clock.now += 199; // 0.995 token
  refused(q.admit(a));
  clock.now += 1; // one whole token
  admitted(q.admit(a));
  refused(q.admit(a));
  clock.now += 60_000; // back to the capacity, never beyond
  for (let i = 0; i < 10; i++) admitted(q.admit(a));
  refused(q.admit(a));
});

test('admitted requests carry the RateLimit-Policy and RateLimit fields of every limit', () => {
  const { q, clock } = quotas(['*=5'], ['*=2']);
  const a = context('a');
  assert.deepEqual(admitted(q.admit(a)), {
    policy: '"tenant_requests";q=10;w=2, "principal_requests";q=4;w=2',
    status: '"tenant_requests";r=9;t=1, "principal_requests";r=3;t=1',
  });
  for (let i = 0; i < 3; i++) admitted(q.admit(a));
  assert.equal(q.admit(a) instanceof RateLimitedError, true);
  clock.now += 500; // one principal token back
  assert.equal(
    admitted(q.admit(a)).status,
    '"tenant_requests";r=7;t=1, "principal_requests";r=0;t=2',
  );
});

test("an issuer's requests are charged to a bucket of their own, never the tenant's API one", () => {
  const { q } = quotas(['*=5'], ['*=1']);
  const a = context('a');
  assert.deepEqual(admitted(q.admitIssuer(a.tenant)), {
    policy: '"issuer_requests";q=10;w=2',
    status: '"issuer_requests";r=9;t=1',
  });
  for (let i = 0; i < 9; i++) admitted(q.admitIssuer(a.tenant));
  assert.equal(refused(q.admitIssuer(a.tenant)).quota.reason, 'issuer_requests');
  // Anyone naming the tenant's slug spent the issuer's bucket: its API requests are untouched.
  assert.equal(
    admitted(q.admit(a)).status,
    '"tenant_requests";r=9;t=1, "principal_requests";r=1;t=1',
  );
  assert.deepEqual(q.usage(a), { accepted: 1, refused: 0, remaining: 9 });
  const unlimited = quotas(['*=0'], ['*=1']).q;
  for (let i = 0; i < 5; i++) assert.equal(unlimited.admitIssuer(a.tenant), undefined);
});

test('one principal over its rate leaves the tenant and its other principals admitted', () => {
  const { q } = quotas(['*=0'], ['*=1']);
  const key1 = context('a', 'k1');
  const key2 = context('a', 'k2');
  admitted(q.admit(key1));
  admitted(q.admit(key1));
  const error = refused(q.admit(key1));
  assert.equal(error.quota.reason, 'principal_requests');
  assert.match(error.message, /credential's request rate/);
  admitted(q.admit(key2));
  admitted(q.admit(context('b', 'k1')));
});

test("a tenant's bucket is shared by its principals and never by another tenant", () => {
  const { q } = quotas(['*=1'], ['*=0']);
  admitted(q.admit(context('a', 'k1')));
  admitted(q.admit(context('a', 'k2')));
  assert.equal(refused(q.admit(context('a', 'k3'))).quota.reason, 'tenant_requests');
  admitted(q.admit(context('b', 'k1')));
  admitted(q.admit(context('b', 'k1')));
});

test('limits come from the plan; a plan without request limits is admitted without fields', () => {
  const { q } = quotas(['*=1', 'pro=100', 'internal=0'], ['*=0']);
  const free = context('f', 'k', 'free');
  const pro = context('p', 'k', 'pro');
  const internal = context('i', 'k', 'internal');
  admitted(q.admit(free));
  admitted(q.admit(free));
  refused(q.admit(free));
  for (let i = 0; i < 200; i++) admitted(q.admit(pro));
  for (let i = 0; i < 1000; i++) assert.equal(q.admit(internal), undefined);
  assert.equal(q.usage(internal).accepted, 1000);
  assert.equal(q.usage(internal).remaining, null);
});

test('usage counts accepted and refused requests of the current window only', () => {
  const { q, clock } = quotas(['*=1'], ['*=0']);
  const a = context('a');
  admitted(q.admit(a));
  admitted(q.admit(a));
  refused(q.admit(a));
  refused(q.admit(a));
  assert.deepEqual(q.usage(a), { accepted: 2, refused: 2, remaining: 0 });
  clock.now += 60_000;
  assert.deepEqual(q.usage(a), { accepted: 0, refused: 0, remaining: 2 });
});

test('principal buckets stay within the bound; idle ones go first, an empty one keeps its state', () => {
  const { q, clock } = quotas(['*=0'], ['*=1'], 10);
  for (let i = 0; i < 9; i++) admitted(q.admit(context('a', `idle-${i}`)));
  clock.now += 2_000; // the nine are full again: idle
  const busy = context('a', 'busy');
  admitted(q.admit(busy));
  admitted(q.admit(busy));
  refused(q.admit(busy));
  assert.equal(q.principalBuckets, 10);
  admitted(q.admit(context('a', 'new')));
  assert.equal(q.principalBuckets, 2, 'the idle buckets were dropped, not the empty one');
  refused(q.admit(busy));
  for (let i = 0; i < 100; i++) {
    admitted(q.admit(context('b', `key-${i}`)));
    assert.ok(q.principalBuckets <= 10, `${q.principalBuckets} buckets`);
  }
});

test('refusals are counted per bucket in Prometheus', async () => {
  const { q, metrics } = quotas(['*=1'], ['*=0']);
  const a = context('a');
  admitted(q.admit(a));
  admitted(q.admit(a));
  refused(q.admit(a));
  const text = await metrics.metrics();
  assert.match(text, /palisade_rate_limited_requests_total\{reason="tenant_requests"\} 1/);
  assert.match(text, /palisade_rate_limited_requests_total\{reason="principal_requests"\} 0/);
  assert.match(text, /palisade_rate_limit_principal_buckets 0/);
});
