/**
 * Every request to a tenant's issuer (`/t/{slug}/…`: the token endpoint, discovery, the
 * authorization and sign-in pages) is charged to a bucket of that tenant's issuer, at the
 * tenant's request rate (`quotaTenantRequestsPerSecond`): a token request costs a secret
 * check and a signature, which one tenant's clients (or anyone naming its slug) must not take
 * from every tenant, and anyone naming a slug must not spend the tenant's API requests either.
 * Machines are refused with problem+json, browsers with a page; both with Retry-After and the
 * RateLimit fields.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import type { HttpReply } from './support/http.ts';
import { OidcPlatform } from './support/oidc-platform.ts';

/**
 * Calls until the gateway refuses; each admitted call has the `admitted` status and carries
 * the rate-limit fields. A one-request bucket refills once a second, so the second
 * call is refused unless the machine stalls for a second; a few more attempts cover that.
 */
async function untilRefused(call: () => Promise<HttpReply>, admitted = 200): Promise<HttpReply> {
  for (let i = 0; i < 20; i++) {
    const reply = await call();
    if (reply.status === 429) return reply;
    assert.equal(reply.status, admitted, JSON.stringify(reply.body));
    assert.equal(reply.headers.get('ratelimit-policy'), '"issuer_requests";q=1;w=1');
  }
  assert.fail('never refused');
}

function assertRefused(reply: HttpReply, type: RegExp): void {
  assert.equal(reply.status, 429);
  assert.match(reply.headers.get('content-type') ?? '', type);
  assert.match(reply.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
  assert.equal(reply.headers.get('ratelimit-policy'), '"issuer_requests";q=1;w=1');
  assert.match(reply.headers.get('ratelimit') ?? '', /^"issuer_requests";r=0;t=[1-9][0-9]*$/);
}

for (const backend of backendNames()) {
  describe(`tenant issuer requests are charged to the tenant's request rate on ${backend}`, () => {
    let api: OidcPlatform;

    const onPlan = async (slug: string, plan: string) => {
      const tenant = await api.tenant(slug);
      const patched = await api.call('PATCH', `/v1/platform/tenants/${tenant.id}`, ADMIN_TOKEN, {
        plan,
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      return tenant;
    };
    const tokenRequest = (slug: string, client: { id: string; secret: string | null }) =>
      api.call('POST', `/t/${slug}/token`, undefined, 'grant_type=client_credentials', {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
      });

    before(async () => {
      api = await OidcPlatform.start(backend, {
        quotaTenantRequestsPerSecond: ['*=0', 'small=1'],
        quotaBurstSeconds: '1',
      });
    });
    after(() => api.close());

    test('token requests over the rate get 429 problem+json; another tenant is served', async () => {
      const small = await onPlan('small', 'small');
      const roomy = await onPlan('roomy', 'free');
      const smalls = await api.client(small.key, { name: 's', kind: 'service', roles: ['viewer'] });
      const roomys = await api.client(roomy.key, { name: 'r', kind: 'service', roles: ['viewer'] });
      const refused = await untilRefused(() => tokenRequest('small', smalls));
      assertRefused(refused, /^application\/problem\+json/);
      assert.equal(refused.body.code, 'PALISADE_RATE_LIMITED');
      assert.equal(refused.body.errors[0].message, 'issuer_requests');
      for (let i = 0; i < 5; i++) {
        const served = await tokenRequest('roomy', roomys);
        assert.equal(served.status, 200, JSON.stringify(served.body));
        assert.equal(served.headers.get('ratelimit'), null, 'a plan without request limits');
      }
      const metrics = await api.call('GET', '/metrics');
      assert.match(
        metrics.body,
        /palisade_rate_limited_requests_total\{reason="issuer_requests"\} [1-9]/,
      );
    });

    test('discovery is charged too, and a browser page over the rate is a page', async () => {
      await onPlan('paged', 'small');
      assertRefused(
        await untilRefused(() => api.call('GET', '/t/paged/.well-known/openid-configuration')),
        /^application\/problem\+json/,
      );
      // No such authorization: admitted, the page says so (400).
      const page = await untilRefused(() => api.call('GET', '/t/paged/interaction/abc'), 400);
      assertRefused(page, /^text\/html/);
      assert.match(page.body, /request rate of the plan/);
    });

    test("a suspended tenant's issuer is refused as before, not charged", async () => {
      const t = await onPlan('paused', 'small');
      await api.call('PATCH', `/v1/platform/tenants/${t.id}`, ADMIN_TOKEN, { status: 'suspended' });
      for (let i = 0; i < 5; i++) {
        const reply = await api.call('GET', '/t/paused/.well-known/openid-configuration');
        assert.equal(reply.status, 403, JSON.stringify(reply.body));
        assert.equal(reply.body.code, 'PALISADE_TENANT_SUSPENDED');
      }
    });
  });
}
