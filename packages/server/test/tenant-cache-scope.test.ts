/**
 * A change to one tenant drops only that tenant's cache entries: suspending a tenant, or
 * revoking one of its API keys, leaves another tenant's issuer cached (its token is verified
 * with no read of the issuer; the lookup counter on /metrics); a device change in one tenant
 * leaves another tenant's device credential cached (its row, removed behind the platform's
 * back, is not read again). Caches are kept an hour.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ADMIN_TOKEN } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { controlPlaneSql } from './support/control-plane-sql.ts';
import { OidcPlatform } from './support/oidc-platform.ts';

/** The value of the counter `name` on /metrics. */
async function counter(api: OidcPlatform, name: string): Promise<number> {
  const line = String((await api.call('GET', '/metrics')).body)
    .split('\n')
    .find((row) => row.startsWith(`${name} `));
  assert.ok(line !== undefined, `${name} is exported`);
  return Number(line.split(' ').at(-1));
}

/** Removes every credential of `tenantId`'s devices from the control plane, as its owner. */
async function removeDeviceCredentials(api: OidcPlatform, tenantId: string): Promise<void> {
  await controlPlaneSql(
    api.fixture.settings,
    'DELETE FROM device_credentials WHERE tenant_id = $1',
    [tenantId],
  );
}

for (const backend of backendNames()) {
  describe(`tenant-scoped cache forgetting on ${backend}`, () => {
    test("a tenant's suspension and key revocation leave another tenant's issuer cached", async (t) => {
      const api = await OidcPlatform.start(backend, { authCacheTtlMs: '3600000' });
      t.after(() => api.close());
      const status = async (token: string) =>
        (await api.call('GET', '/v1/collections', token)).status;
      const acme = await api.tenant('acme');
      const other = await api.tenant('other');
      const acmeToken = await api.serviceToken(acme.key);
      const otherToken = await api.serviceToken(other.key);
      assert.equal(await status(acmeToken), 200);
      assert.equal(await status(otherToken), 200);
      const issuers = () => counter(api, 'palisade_issuer_store_lookups_total');
      const before = await issuers();

      const suspended = await api.call('PATCH', `/v1/platform/tenants/${acme.id}`, ADMIN_TOKEN, {
        status: 'suspended',
      });
      assert.equal(suspended.status, 200);
      assert.equal(await status(acmeToken), 403, 'the suspension holds at once');
      assert.equal(await issuers(), before + 1, "acme's issuer was read again");
      assert.equal(await status(otherToken), 200);
      assert.equal(await issuers(), before + 1, "the other tenant's issuer stayed cached");

      const keys = await api.call('GET', `/v1/platform/tenants/${acme.id}/api-keys`, ADMIN_TOKEN);
      const revoked = await api.call(
        'DELETE',
        `/v1/platform/tenants/${acme.id}/api-keys/${keys.body.items[0].id}`,
        ADMIN_TOKEN,
      );
      assert.equal(revoked.status, 204, JSON.stringify(revoked.body));
      assert.equal(await status(otherToken), 200);
      assert.equal(await issuers(), before + 1, 'a revocation in acme left it cached too');
    });

    test("a device change in one tenant leaves another tenant's device credentials cached", async (t) => {
      const api = await OidcPlatform.start(backend, { authCacheTtlMs: '3600000' });
      t.after(() => api.close());
      const acme = await api.tenant('acme');
      const other = await api.tenant('other');
      const device = async (key: string, name: string) => {
        const created = await api.call('POST', '/v1/devices', key, { name });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        return created.body.credentials.token as string;
      };
      const send = async (token: string) =>
        (
          await api.call('POST', `/api/v1/${token}/telemetry`, undefined, {
            ts: Date.now(),
            values: { k: 1 },
          })
        ).status;
      const otherToken = await device(other.key, 'meter');
      assert.equal(await send(otherToken), 200, "the other tenant's credential is cached");
      await removeDeviceCredentials(api, other.id);

      await device(acme.key, 'pump');
      const acmeToken = await device(acme.key, 'valve');
      assert.equal(await send(acmeToken), 200);
      assert.equal(await send(otherToken), 200, 'served from the cache, not read again');
    });
  });
}
