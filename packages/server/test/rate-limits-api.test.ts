import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_TOKEN, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { signingNode } from './support/edge-nodes.ts';
import { steadyWindow } from './support/windows.ts';

/** The usage window: a day, starting at UTC midnight. */
const DAY_MS = 86_400_000;

/**
 * Calls until the gateway refuses. A one-request bucket refills once a second, so the second
 * call is refused unless the machine stalls for a second; a few more attempts cover that.
 */
async function untilRefused(call: () => Promise<Reply>): Promise<Reply> {
  for (let i = 0; i < 20; i++) {
    const reply = await call();
    if (reply.status === 429) return reply;
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
  }
  assert.fail('never refused');
}

function assertRateLimited(reply: Reply, reason: string): void {
  assert.equal(reply.status, 429, JSON.stringify(reply.body));
  assert.equal(reply.body.code, 'PALISADE_RATE_LIMITED');
  assert.equal(reply.body.errors[0].message, reason);
  assert.match(String(reply.headers['retry-after']), /^[1-9][0-9]*$/);
  assert.equal(reply.headers['ratelimit-policy'], `"${reason}";q=1;w=1`);
  assert.match(String(reply.headers.ratelimit), new RegExp(`^"${reason}";r=0;t=[1-9][0-9]*$`));
}

for (const backend of backendNames()) {
  describe(`API request rate limits on ${backend}`, () => {
    let api: TestApi;

    const onPlan = async (slug: string, plan: string) => {
      const tenant = await api.tenant(slug);
      const patched = await api.call('PATCH', `/v1/platform/tenants/${tenant.id}`, ADMIN_TOKEN, {
        plan,
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      return tenant;
    };

    before(async () => {
      // One request per second with a one-second burst: a bucket holds a single request. A
      // day-long usage window (it still turns at UTC midnight: see the first test).
      api = await TestApi.start(backend, {
        quotaTenantRequestsPerSecond: ['*=0', 'small=1'],
        quotaPrincipalRequestsPerSecond: ['*=0', 'keyed=1'],
        quotaBurstSeconds: '1',
        quotaUsageWindowMs: String(DAY_MS),
      });
    });
    after(() => api.close());

    test('a tenant over its plan rate gets 429 with Retry-After and RateLimit headers, then recovers', async () => {
      // The counts read at the end are of the window the calls below were counted in: a run
      // that straddled UTC midnight would read a fresh window with nothing refused in it.
      await steadyWindow(DAY_MS, 60_000);
      const a = await onPlan('small', 'small');
      const b = await onPlan('roomy', 'free');
      const refused = await untilRefused(() => api.call('GET', '/v1/collections', a.key));
      assertRateLimited(refused, 'tenant_requests');
      assert.equal(refused.headers['x-content-type-options'], 'nosniff');
      for (let i = 0; i < 20; i++) {
        const reply = await api.call('GET', '/v1/collections', b.key);
        assert.equal(reply.status, 200, "tenant A's limit is not tenant B's");
        assert.equal(reply.headers.ratelimit, undefined, 'a plan without request limits');
      }
      await sleep(Number(refused.headers['retry-after']) * 1000);
      const usage = await api.call('GET', '/v1/usage', a.key);
      assert.equal(usage.status, 200, JSON.stringify(usage.body));
      assert.equal(usage.headers['ratelimit-policy'], '"tenant_requests";q=1;w=1');
      assert.match(String(usage.headers.ratelimit), /^"tenant_requests";r=0;t=1$/);
      assert.equal(usage.body.limits.tenantRequestsPerSecond, 1);
      assert.equal(usage.body.limits.principalRequestsPerSecond, 0);
      assert.ok(usage.body.requests.accepted >= 2, JSON.stringify(usage.body.requests));
      assert.ok(usage.body.requests.refused >= 1, JSON.stringify(usage.body.requests));
    });

    test("one credential over its rate leaves the tenant's other credentials served", async () => {
      const tenant = await onPlan('keyed', 'keyed');
      const second = await api.call(
        'POST',
        `/v1/platform/tenants/${tenant.id}/api-keys`,
        ADMIN_TOKEN,
        { name: 'second' },
      );
      assert.equal(second.status, 201);
      const refused = await untilRefused(() => api.call('GET', '/v1/collections', tenant.key));
      assertRateLimited(refused, 'principal_requests');
      const other = await api.call('GET', '/v1/collections', second.body.secret);
      assert.equal(other.status, 200, JSON.stringify(other.body));
      assert.equal(other.headers['ratelimit-policy'], '"principal_requests";q=1;w=1');
    });

    test("an edge node's requests are charged to the node, as another credential's", async () => {
      const tenant = await onPlan('edgy', 'keyed');
      const node = await signingNode(api, tenant.key, 'edge-1');
      const sync = () => api.call('GET', '/v1/edge/device-credentials', node.credential);
      const admitted = await sync();
      assert.equal(admitted.status, 200, JSON.stringify(admitted.body));
      assert.equal(admitted.headers['ratelimit-policy'], '"principal_requests";q=1;w=1');
      assertRateLimited(await untilRefused(sync), 'principal_requests');
    });

    test('the platform admin and public routes are not charged', async () => {
      for (let i = 0; i < 5; i++) {
        assert.equal((await api.call('GET', '/v1/platform/tenants', ADMIN_TOKEN)).status, 200);
        assert.equal((await api.call('GET', '/healthz', undefined)).status, 200);
      }
      const metrics = await api.call('GET', '/metrics', undefined);
      assert.match(
        metrics.body,
        /palisade_rate_limited_requests_total\{reason="tenant_requests"\} [1-9]/,
      );
      assert.match(
        metrics.body,
        /palisade_rate_limited_requests_total\{reason="principal_requests"\} [1-9]/,
      );
    });
  });
}
