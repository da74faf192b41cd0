import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, startPlatform } from '../src/index.ts';
import { RateLimitedError, SignInLimits } from '../src/quotas/index.ts';
import { TestApi } from './support/api.ts';
import { backendNames, openBackend } from './support/backends.ts';

/** Per-address limits on the unauthenticated sign-in, invitation and device-code forms. */

describe('SignInLimits', () => {
  test('a minute of attempts per tenant and address, refilled continuously', () => {
    let now = 1_000_000;
    const limits = new SignInLimits({ perMinute: 3, maxBuckets: 100, clock: () => now });
    for (let i = 0; i < 3; i++) assert.equal(limits.admit('acme', '192.0.2.1'), undefined);
    const refused = limits.admit('acme', '192.0.2.1');
    assert.ok(refused instanceof RateLimitedError);
    assert.equal(refused.code, 'PALISADE_RATE_LIMITED');
    assert.equal(refused.quota.reason, 'address_sign_in');
    assert.equal(refused.quota.retryAfterSeconds, 20);
    assert.equal(limits.admit('other', '192.0.2.1'), undefined, 'another tenant, same address');
    assert.equal(limits.admit('acme', '192.0.2.2'), undefined, 'same tenant, another address');
    now += 20_000;
    assert.equal(limits.admit('acme', '192.0.2.1'), undefined, 'one attempt refilled');
    assert.ok(limits.admit('acme', '192.0.2.1') instanceof RateLimitedError);
  });

  test('0 is unlimited, and the least recently used bucket goes first at the bound', () => {
    const unlimited = new SignInLimits({ perMinute: 0, maxBuckets: 1 });
    for (let i = 0; i < 100; i++) assert.equal(unlimited.admit('acme', '192.0.2.1'), undefined);
    const limits = new SignInLimits({ perMinute: 1, maxBuckets: 2, clock: () => 0 });
    assert.equal(limits.admit('acme', 'a'), undefined);
    assert.equal(limits.admit('acme', 'b'), undefined);
    assert.ok(limits.admit('acme', 'a') instanceof RateLimitedError);
    assert.equal(limits.admit('acme', 'c'), undefined, 'evicts b, the least recently used');
    assert.ok(limits.admit('acme', 'a') instanceof RateLimitedError, 'a was kept');
    assert.equal(limits.admit('acme', 'b'), undefined, 'b starts afresh');
  });
});

test('trustedProxies takes IP addresses and CIDR ranges, and names a bad entry before anything opens', async () => {
  await assert.rejects(
    openBackend('sqlite', { trustedProxies: ['proxy.example'] }),
    (e) => e instanceof ConfigError && e.message.startsWith('setting trustedProxies'),
  );
  for (const bad of ['999.1.1.1', '10.0.0.0/33', '::1/129', '1.2.3']) {
    const fixture = await openBackend('sqlite', { trustedProxies: ['10.0.0.0/8', '::1', bad] });
    try {
      await assert.rejects(
        startPlatform(fixture.settings, { listen: false }),
        (e) =>
          e instanceof ConfigError && e.message.includes(`trustedProxies: ${JSON.stringify(bad)}`),
        bad,
      );
    } finally {
      await fixture.cleanup();
    }
  }
});

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const TOKEN = 'x'.repeat(43);

for (const backend of backendNames()) {
  describe(`sign-in limits over HTTP on ${backend}`, () => {
    let api: TestApi;

    before(async () => {
      api = await TestApi.start(backend, {
        signInAttemptsPerMinute: '3',
        trustedProxies: ['127.0.0.1'],
      });
      await api.tenant('acme');
      await api.tenant('other');
      await api.tenant('iotdevice');
    });
    after(() => api.close());

    const post = (slug: string, path: string, forwardedFor?: string) =>
      api.http.inject({
        method: 'POST',
        url: `/t/${slug}/${path}`,
        headers: {
          ...FORM,
          ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
        },
        payload: 'password=a+long+enough+passphrase&confirm=a+long+enough+passphrase',
      });

    test('the invitation form: the fourth post a minute from one address is 429, before the body is read', async () => {
      const statuses = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await post('acme', `invite/${TOKEN}`, '198.51.100.7')).statusCode);
      assert.deepEqual(statuses.slice(0, 3).includes(429), false);
      assert.equal(statuses[3], 429);
      const refused = await post('acme', `invite/${TOKEN}`, '198.51.100.7');
      // The invitation pages answer their form posts with a page, refusals included.
      assert.equal(refused.statusCode, 429);
      assert.match(String(refused.headers['content-type']), /^text\/html/);
      assert.match(refused.body, /too many sign-in attempts from this address/);
      assert.match(String(refused.headers['retry-after']), /^[1-9][0-9]*$/);
      assert.notEqual(
        (await post('acme', `invite/${TOKEN}`, '198.51.100.8')).statusCode,
        429,
        'another address',
      );
      assert.notEqual(
        (await post('other', `invite/${TOKEN}`, '198.51.100.7')).statusCode,
        429,
        'another tenant',
      );
      const page = await api.http.inject({
        method: 'GET',
        url: `/t/acme/invite/${TOKEN}`,
        headers: { 'x-forwarded-for': '198.51.100.7' },
      });
      assert.notEqual(page.statusCode, 429, 'reading the page is not an attempt');
    });

    test('the sign-in form and the device-code form count; the token endpoint does not', async () => {
      const address = '203.0.113.9';
      for (let i = 0; i < 3; i++) await post('acme', 'interaction/abc', address);
      const page = await post('acme', 'interaction/abc', address);
      assert.equal(page.statusCode, 429);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.match(page.body, /too many sign-in attempts from this address/);
      assert.match(String(page.headers['retry-after']), /^[1-9][0-9]*$/);
      assert.equal(page.headers['x-frame-options'], 'DENY');
      assert.equal((await post('acme', 'device', address)).statusCode, 429, 'same budget');
      const machine = '203.0.113.10';
      for (let i = 0; i < 6; i++) {
        const token = await post('acme', 'token', machine);
        assert.notEqual(token.statusCode, 429);
      }
      for (let i = 0; i < 3; i++)
        assert.notEqual((await post('acme', 'device', machine)).statusCode, 429);
      assert.equal((await post('acme', 'device', machine)).statusCode, 429);
    });

    test('the device-code form counts however the provider would route its path', async () => {
      const address = '203.0.113.11';
      const spellings = ['DEVICE', 'device/', 'Device/', 'device'];
      const statuses = [];
      for (const path of spellings) statuses.push((await post('acme', path, address)).statusCode);
      assert.deepEqual(statuses.slice(0, 3).includes(429), false);
      assert.equal(statuses[3], 429, `${spellings.join(', ')} answered ${statuses.join(', ')}`);
    });

    test('a percent-encoded slug reaches the path the gateway routed, not one cut out of the slug', async () => {
      // `%69%6f%74device` is `iotdevice`: cutting the decoded slug's length off the raw path
      // left `device/` for the provider, its code form, while the route saw no path at all.
      const address = '203.0.113.12';
      const statuses = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await post('%69%6f%74device', '', address)).statusCode);
      assert.deepEqual(statuses, [404, 404, 404, 404]);
      const encoded = await api.http.inject({ method: 'GET', url: '/t/%61cme/device' });
      assert.equal(encoded.statusCode, 200, 'the encoded slug names acme, and its code form');
      assert.match(encoded.body, /Connect a device/);
    });
  });
}
