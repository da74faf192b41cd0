import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import {
  ObjectCaps,
  PlanLimitReachedError,
  planLimits,
  QuotaExceededError,
  rateLimitHeaders,
  TelemetryQuotas,
} from '../src/quotas/index.ts';
import { issueTenantContext } from '../src/tenancy/tenant-context.ts';

function context(id: string, plan = 'free') {
  const now = '2026-01-01T00:00:00.000Z';
  return issueTenantContext(
    { id, slug: id, name: id, plan, status: 'active', shard: 's1', createdAt: now, updatedAt: now },
    { kind: 'api-key', id: `key-${id}` },
  );
}

/** Quotas on a fake clock: `clock.now` is what the buckets see. */
function quotas(settings: Partial<Record<string, string[] | number>> = {}, maxBuckets = 1000) {
  const clock = { now: 1_000_000 };
  const metrics = new Registry();
  const q = new TelemetryQuotas({
    limitsOf: planLimits({
      quotaTenantMessagesPerSecond: ['*=0'],
      quotaTenantPointsPerSecond: ['*=0'],
      quotaDeviceMessagesPerSecond: ['*=0'],
      quotaDevicePointsPerSecond: ['*=0'],
      quotaTenantRequestsPerSecond: ['*=0'],
      quotaPrincipalRequestsPerSecond: ['*=0'],
      quotaDevicesMax: ['*=0'],
      quotaCollectionsMax: ['*=0'],
      quotaTelemetryStreamsMax: ['*=0'],
      quotaBurstSeconds: 1,
      ...settings,
    } as never),
    maxBuckets,
    usageWindowMs: 60_000,
    clock: () => clock.now,
    metrics,
  });
  return { q, clock, metrics };
}

function refusal(fn: () => void): QuotaExceededError {
  try {
    fn();
  } catch (error) {
    if (error instanceof QuotaExceededError) return error;
    throw error;
  }
  assert.fail('expected PALISADE_QUOTA_EXCEEDED');
}

test('a bucket admits its capacity, refuses the next, and refills at its rate', () => {
  const { q, clock } = quotas({ quotaDeviceMessagesPerSecond: ['*=5'], quotaBurstSeconds: 2 });
  const a = context('a');
  for (let i = 0; i < 10; i++) q.admit(a, 'd1', 1);
  const error = refusal(() => q.admit(a, 'd1', 1));
  assert.equal(error.code, 'PALISADE_QUOTA_EXCEEDED');
  assert.equal(error.status, 429);
  assert.deepEqual(error.quota, {
    reason: 'device_messages',
    quota: 10,
    windowSeconds: 2,
    remaining: 0,
    retryAfterSeconds: 1,
  });
  clock.now += 199; // 0.995 token
  refusal(() => q.admit(a, 'd1', 1));
  clock.now += 1; // one whole token
  q.admit(a, 'd1', 1);
  refusal(() => q.admit(a, 'd1', 1));
  clock.now += 60_000; // refills to the capacity, never beyond
  for (let i = 0; i < 10; i++) q.admit(a, 'd1', 1);
  refusal(() => q.admit(a, 'd1', 1));
});

test('a refused message charges no bucket', () => {
  const { q } = quotas({
    quotaTenantPointsPerSecond: ['*=10'],
    quotaDeviceMessagesPerSecond: ['*=1'],
  });
  const a = context('a');
  q.admit(a, 'd1', 4);
  assert.equal(refusal(() => q.admit(a, 'd1', 4)).quota.reason, 'device_messages');
  q.admit(a, 'd2', 6); // the tenant still holds 6 points: the refusal took none
  assert.equal(refusal(() => q.admit(a, 'd3', 1)).quota.reason, 'tenant_points');
});

test('a message for several devices is checked whole: a refusal charges none of them', () => {
  const { q } = quotas({
    quotaTenantMessagesPerSecond: ['*=4'],
    quotaDevicePointsPerSecond: ['*=3'],
  });
  const a = context('a');
  q.admit(a, 'd2', 3); // d2 has no point left, the tenant 3 messages
  const message = [
    { deviceId: 'd1', points: 2 },
    { deviceId: 'd2', points: 1 },
  ];
  assert.equal(refusal(() => q.admitEach(a, message)).quota.reason, 'device_points');
  q.admit(a, 'd1', 3); // d1 still holds its 3 points
  q.admit(a, 'd3', 1);
  q.admit(a, 'd4', 1); // and the tenant its 3 messages
  assert.equal(refusal(() => q.admit(a, 'd5', 1)).quota.reason, 'tenant_messages');
  assert.deepEqual(q.usage(a).messages.refused, 3, 'a message refused per device, and d5');
});

test('a full tenant bucket admits a message for several devices past its capacity', () => {
  const { q } = quotas({ quotaTenantPointsPerSecond: ['*=2'] });
  const a = context('a');
  q.admitEach(a, [
    { deviceId: 'd1', points: 2 },
    { deviceId: 'd2', points: 1 },
  ]);
  assert.equal(refusal(() => q.admit(a, 'd3', 1)).quota.reason, 'tenant_points');
});

test('a message for several devices given back charges neither its devices nor the tenant', () => {
  const { q } = quotas({
    quotaTenantMessagesPerSecond: ['*=2'],
    quotaDevicePointsPerSecond: ['*=3'],
  });
  const a = context('a');
  const message = [
    { deviceId: 'd1', points: 3 },
    { deviceId: 'd2', points: 3 },
  ];
  q.admitEach(a, message);
  assert.equal(refusal(() => q.admitEach(a, message)).quota.reason, 'device_points');
  q.refundEach(a, message);
  q.admitEach(a, message);
});

test('a message larger than the capacity passes a full bucket and leaves it in debt', () => {
  const { q, clock } = quotas({ quotaDevicePointsPerSecond: ['*=10'] });
  const a = context('a');
  q.admit(a, 'd1', 25);
  const error = refusal(() => q.admit(a, 'd1', 1));
  assert.equal(error.quota.reason, 'device_points');
  assert.equal(error.quota.retryAfterSeconds, 2); // 15 tokens of debt + 1, at 10/s
  clock.now += 1600;
  q.admit(a, 'd1', 1);
});

test("tenant A flooding does not consume tenant B's budget, nor one device another's", () => {
  const { q } = quotas({
    quotaTenantMessagesPerSecond: ['*=3'],
    quotaDeviceMessagesPerSecond: ['*=2'],
  });
  const a = context('a');
  const b = context('b');
  q.admit(a, 'd1', 1);
  q.admit(a, 'd1', 1);
  assert.equal(refusal(() => q.admit(a, 'd1', 1)).quota.reason, 'device_messages');
  q.admit(a, 'd2', 1);
  assert.equal(refusal(() => q.admit(a, 'd3', 1)).quota.reason, 'tenant_messages');
  for (let i = 0; i < 100; i++) refusal(() => q.admit(a, 'd4', 1));
  // Same device id in another tenant: its own buckets.
  q.admit(b, 'd1', 1);
  q.admit(b, 'd1', 1);
  q.admit(b, 'd2', 1);
  assert.equal(q.usage(b).messages.refused, 0);
});

test('limits come from the plan, with * for any other plan and 0 as unlimited', () => {
  const limitsOf = planLimits({
    quotaTenantMessagesPerSecond: ['*=100', 'pro=1000', 'internal=0'],
    quotaTenantPointsPerSecond: ['*=0'],
    quotaDeviceMessagesPerSecond: ['pro=50'],
    quotaDevicePointsPerSecond: ['*=0'],
    quotaTenantRequestsPerSecond: ['*=20', 'pro=200'],
    quotaPrincipalRequestsPerSecond: ['*=0'],
    quotaDevicesMax: ['*=100', 'pro=0'],
    quotaCollectionsMax: ['pro=20'],
    quotaTelemetryStreamsMax: ['*=100', 'pro=0'],
    quotaBurstSeconds: 10,
  });
  assert.equal(limitsOf('free').tenantMessagesPerSecond, 100);
  assert.equal(limitsOf('free').tenantRequestsPerSecond, 20);
  assert.equal(limitsOf('pro').tenantRequestsPerSecond, 200);
  assert.equal(limitsOf('pro').principalRequestsPerSecond, 0);
  assert.equal(limitsOf('pro').tenantMessagesPerSecond, 1000);
  assert.equal(limitsOf('internal').tenantMessagesPerSecond, 0);
  assert.equal(limitsOf('free').deviceMessagesPerSecond, 0);
  assert.equal(limitsOf('free').devicesMax, 100);
  assert.equal(limitsOf('pro').devicesMax, 0, 'a plan may lift the cap that * sets');
  assert.equal(limitsOf('pro').collectionsMax, 20);
  assert.equal(limitsOf('free').collectionsMax, 0, 'no * entry: unlimited');
  assert.equal(limitsOf('free').telemetryStreamsMax, 100);
  assert.equal(limitsOf('pro').telemetryStreamsMax, 0);
  assert.equal(limitsOf('pro'), limitsOf('pro'), 'resolved once per plan');
  const { q } = quotas({ quotaTenantMessagesPerSecond: ['*=1', 'pro=0'] });
  const pro = context('p', 'pro');
  for (let i = 0; i < 1000; i++) q.admit(pro, 'd', 1000);
});

test('usage reports the plan, limits, accepted and refused in the current window', () => {
  const { q, clock } = quotas({ quotaTenantMessagesPerSecond: ['*=2'] });
  const a = context('a');
  for (const points of [3, 4]) {
    q.admit(a, 'd1', points);
    q.accepted(a, 1, points);
  }
  refusal(() => q.admit(a, 'd1', 5));
  const usage = q.usage(a);
  assert.equal(usage.plan, 'free');
  assert.equal(usage.limits.tenantMessagesPerSecond, 2);
  assert.deepEqual(usage.messages, { accepted: 2, refused: 1, remaining: 0 });
  assert.deepEqual(usage.points, { accepted: 7, refused: 5, remaining: null });
  assert.equal(usage.window.durationMs, 60_000);
  clock.now += 60_000;
  assert.deepEqual(q.usage(a).messages, { accepted: 0, refused: 0, remaining: 2 });
});

test('batches charge the tenant whole, and are refused whole', () => {
  const { q } = quotas({ quotaTenantPointsPerSecond: ['*=100'] });
  const a = context('a');
  q.admitBatch(a, 50, 400); // a full bucket takes it, leaving debt
  const error = refusal(() => q.admitBatch(a, 1, 1));
  assert.equal(error.quota.reason, 'tenant_points');
  assert.equal(q.usage(a).messages.refused, 1);
});

test('a refunded batch leaves the buckets as if it had never been admitted, never above full', () => {
  const { q, clock } = quotas({ quotaTenantPointsPerSecond: ['*=100'], quotaBurstSeconds: 2 });
  const a = context('a');
  q.admitBatch(a, 1, 150);
  q.admitBatch(a, 1, 30);
  q.refundBatch(a, 1, 150);
  assert.equal(q.usage(a).points.remaining, 170, 'the other batch stays charged');
  q.admitBatch(a, 1, 150);
  clock.now += 1000; // refilled by 100 meanwhile
  q.refundBatch(a, 1, 150);
  assert.deepEqual(
    q.usage(a).points,
    { accepted: 0, refused: 0, remaining: 200 },
    'capped at the capacity',
  );
});

test('device buckets are bounded: idle ones go first, then the oldest', () => {
  const { q, clock } = quotas({ quotaDeviceMessagesPerSecond: ['*=1'] }, 10);
  const a = context('a');
  for (let i = 0; i < 10; i++) q.admit(a, `d${i}`, 1);
  assert.equal(q.deviceBuckets, 10);
  clock.now += 1000; // all refilled: idle
  q.admit(a, 'd10', 1);
  assert.equal(q.deviceBuckets, 1);
  for (let i = 11; i < 25; i++) q.admit(a, `d${i}`, 1); // none idle: oldest dropped
  assert.ok(q.deviceBuckets <= 10);
  refusal(() => q.admit(a, 'd24', 1)); // a live bucket is kept
});

test('refusals are counted per reason in Prometheus', async () => {
  const { q, metrics } = quotas({ quotaDeviceMessagesPerSecond: ['*=1'] });
  const a = context('a');
  q.admit(a, 'd', 1);
  refusal(() => q.admit(a, 'd', 1));
  refusal(() => q.admit(a, 'd', 1));
  const text = await metrics.metrics();
  assert.match(text, /palisade_quota_refusals_total\{reason="device_messages"\} 2/);
  assert.match(text, /palisade_quota_refusals_total\{reason="tenant_points"\} 0/);
});

test('the headers follow draft-ietf-httpapi-ratelimit-headers', () => {
  assert.deepEqual(
    rateLimitHeaders({
      reason: 'tenant_points',
      quota: 500,
      windowSeconds: 10,
      remaining: 3,
      retryAfterSeconds: 2,
    }),
    {
      'retry-after': '2',
      'ratelimit-policy': '"tenant_points";q=500;w=10',
      ratelimit: '"tenant_points";r=3;t=2',
    },
  );
});

test('object caps: below the cap admits, at it refuses naming limit and count; 0 never counts', async () => {
  const metrics = new Registry();
  const caps = new ObjectCaps({
    limitsOf: planLimits({
      quotaTenantMessagesPerSecond: ['*=0'],
      quotaTenantPointsPerSecond: ['*=0'],
      quotaDeviceMessagesPerSecond: ['*=0'],
      quotaDevicePointsPerSecond: ['*=0'],
      quotaTenantRequestsPerSecond: ['*=0'],
      quotaPrincipalRequestsPerSecond: ['*=0'],
      quotaDevicesMax: ['*=3', 'big=0'],
      quotaCollectionsMax: ['*=2'],
      quotaTelemetryStreamsMax: ['*=0'],
      quotaBurstSeconds: 1,
    }),
    metrics,
  });
  const free = context('a');
  await caps.admit(free, 'devices', async () => 2);
  const refused = await caps
    .admit(free, 'devices', async () => 3)
    .then(
      () => assert.fail('expected PALISADE_PLAN_LIMIT_REACHED'),
      (error: unknown) => error,
    );
  assert.ok(refused instanceof PlanLimitReachedError);
  assert.equal(refused.code, 'PALISADE_PLAN_LIMIT_REACHED');
  assert.equal(refused.status, 403);
  assert.deepEqual(refused.errors, [{ path: '', message: 'devicesMax' }]);
  assert.match(refused.message, /has 3 devices.*devicesMax 3.*delete devices.*higher devicesMax/);
  await assert.rejects(
    caps.admit(free, 'collections', async () => 2),
    /collectionsMax 2/,
  );
  await caps.admit(context('b', 'big'), 'devices', () => assert.fail('an unlimited plan counts'));
  const text = await metrics.metrics();
  assert.match(text, /palisade_plan_limit_refusals_total\{kind="devices"\} 1\n/);
  assert.match(text, /palisade_plan_limit_refusals_total\{kind="collections"\} 1\n/);
});

test('traffic on an unlimited plan leaves no debt for when the plan sets a rate', () => {
  const { q } = quotas({
    quotaTenantMessagesPerSecond: ['*=0', 'small=5'],
    quotaDeviceMessagesPerSecond: ['*=0', 'small=5'],
  });
  const unlimited = context('a');
  for (let i = 0; i < 10_000; i++) q.admit(unlimited, 'd1', 1);
  q.admitEach(unlimited, [
    { deviceId: 'd1', points: 1 },
    { deviceId: 'd2', points: 1 },
  ]);
  q.admitBatch(unlimited, 1000, 1000);
  // The same tenant moved to a plan with a rate, at the same instant: its buckets are full.
  const limited = context('a', 'small');
  for (let i = 0; i < 5; i++) q.admit(limited, 'd1', 1);
  assert.equal(refusal(() => q.admit(limited, 'd1', 1)).quota.reason, 'device_messages');
});
