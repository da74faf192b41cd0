/**
 * Cedar's `context`: the client address and the request's time, as policies test them, decided
 * alike on REST and GraphQL; the clock is Node's mocked Date, never slept on. The decision
 * cache is observed through `palisade_cedar_evaluations_total`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, mock, test } from 'node:test';
import { PEOPLE_SCHEMA, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

const OFFICE_ONLY = `permit (principal, action, resource);
forbid (principal, action == Palisade::Action::"records:write", resource)
unless { context.ip.isInRange(ip("10.1.0.0/16")) };`;

const WORKING_HOURS = `permit (principal, action, resource)
when { context.weekday <= 5 && context.time.toTime() >= duration("9h") && context.time.toTime() < duration("17h") };`;

const MONDAY_10 = Date.UTC(2026, 11, 7, 10);
const MONDAY_18 = Date.UTC(2026, 11, 7, 18);
const SATURDAY_10 = Date.UTC(2026, 11, 12, 10);

/** Cedar evaluations so far, from /metrics. */
async function evaluations(api: TestApi): Promise<number> {
  const metrics = await api.call('GET', '/metrics', undefined);
  const line = String(metrics.body)
    .split('\n')
    .find((row) => row.startsWith('palisade_cedar_evaluations_total'));
  assert.ok(line !== undefined, 'the evaluation counter is exported');
  return Number(line.split(' ').at(-1));
}

/** A call from `remoteAddress`, as the socket's peer. */
async function from(
  api: TestApi,
  remoteAddress: string,
  method: 'GET' | 'POST',
  url: string,
  key: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const response = await api.http.inject({
    method,
    url,
    remoteAddress,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  return { status: response.statusCode, headers: response.headers, body: response.json() };
}

/** Runs `call` with Date at `at`. */
async function at<T>(time: number, call: () => Promise<T>): Promise<T> {
  mock.timers.enable({ apis: ['Date'], now: time });
  try {
    return await call();
  } finally {
    mock.timers.reset();
  }
}

for (const backend of backendNames()) {
  describe(`Cedar request context on ${backend}`, () => {
    let api: TestApi;

    before(async () => {
      api = await TestApi.start(backend);
    });
    after(() => api.close());

    async function tenantWith(slug: string, policies: string): Promise<string> {
      const tenant = await api.tenant(slug);
      const put = await api.call('PUT', '/v1/collections/people', tenant.key, {
        schema: PEOPLE_SCHEMA,
      });
      assert.equal(put.status, 201, JSON.stringify(put.body));
      const set = await api.call('PUT', '/v1/policies', tenant.key, { policies });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      return tenant.key;
    }

    test('a write outside the address range is refused on REST and GraphQL, inside allowed', async () => {
      const key = await tenantWith('ctx-office', OFFICE_ONLY);
      const create = (address: string, headers?: Record<string, string>) =>
        from(api, address, 'POST', '/v1/collections/people/records', key, { name: 'A' }, headers);
      assert.equal((await create('10.1.2.3')).status, 201);
      assert.equal((await create('::ffff:10.1.200.1')).status, 201, 'IPv4-mapped IPv6');
      const outside = await create('192.0.2.7');
      assert.equal(outside.status, 403, JSON.stringify(outside.body));
      assert.equal(outside.body.code, 'PALISADE_FORBIDDEN');
      const forged = await create('192.0.2.7', { 'x-forwarded-for': '10.1.2.3' });
      assert.equal(forged.status, 403, 'X-Forwarded-For from a peer that is no trusted proxy');
      assert.equal((await create('2001:db8::1')).status, 403);
      const mutation = {
        query: 'mutation { createRecord(collection: "people", data: {name: "G"}) { id } }',
      };
      assert.equal((await from(api, '10.1.9.9', 'POST', '/v1/graphql', key, mutation)).status, 200);
      const refused = await from(api, '192.0.2.7', 'POST', '/v1/graphql', key, mutation);
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      const read = await from(api, '192.0.2.7', 'GET', '/v1/collections/people/records', key);
      assert.equal(read.status, 200, 'reads are not limited by the policy');
      assert.equal(read.body.items.length, 3);
    });

    test('behind a trusted proxy, the address is the client X-Forwarded-For names', async () => {
      const proxied = await TestApi.start(backend, { trustedProxies: ['192.0.2.1'] });
      try {
        const tenant = await proxied.tenant('ctx-proxied');
        await proxied.call('PUT', '/v1/collections/people', tenant.key, { schema: PEOPLE_SCHEMA });
        await proxied.call('PUT', '/v1/policies', tenant.key, { policies: OFFICE_ONLY });
        const create = (peer: string, client: string) =>
          from(
            proxied,
            peer,
            'POST',
            '/v1/collections/people/records',
            tenant.key,
            { name: 'P' },
            {
              'x-forwarded-for': client,
            },
          );
        assert.equal((await create('192.0.2.1', '10.1.2.3')).status, 201);
        assert.equal((await create('192.0.2.1', '198.51.100.4')).status, 403);
        assert.equal((await create('192.0.2.9', '10.1.2.3')).status, 403, 'an untrusted peer');
      } finally {
        await proxied.close();
      }
    });

    test('a time-window policy decides on the request time, every time', async () => {
      const key = await tenantWith('ctx-hours', WORKING_HOURS);
      const list = () => from(api, '192.0.2.7', 'GET', '/v1/collections/people', key);
      assert.equal((await at(MONDAY_10, list)).status, 200);
      assert.equal((await at(MONDAY_18, list)).status, 403, 'after hours');
      assert.equal((await at(SATURDAY_10, list)).status, 403, 'on a Saturday');
      assert.equal((await at(MONDAY_10, list)).status, 200, 'no decision was kept');
      const records = () =>
        from(api, '192.0.2.7', 'POST', '/v1/graphql', key, {
          query: '{ records(collection: "people", limit: 1) { items { id } } }',
        });
      assert.equal((await at(MONDAY_10, records)).status, 200);
      assert.equal((await at(MONDAY_18, records)).status, 403, 'GraphQL decides on the same time');
    });

    test('the decision cache: by address where policies read it, untouched where none do', async () => {
      const plain = await tenantWith('ctx-plain', 'permit (principal, action, resource);');
      const office = await tenantWith('ctx-cache', OFFICE_ONLY);
      const hours = await tenantWith('ctx-cache-hours', WORKING_HOURS);
      const list = (key: string, address: string) =>
        from(api, address, 'GET', '/v1/collections/people', key);
      assert.equal((await list(plain, '10.1.2.3')).status, 200);
      let before = await evaluations(api);
      // Later requests (the real clock moves on: another `context.time`) from other addresses.
      for (const address of ['192.0.2.7', '2001:db8::1'])
        assert.equal((await list(plain, address)).status, 200);
      assert.equal(await evaluations(api), before, 'neither address nor time is in the key');

      assert.equal((await list(office, '10.1.2.3')).status, 200);
      before = await evaluations(api);
      assert.equal((await list(office, '10.1.2.3')).status, 200);
      assert.equal(await evaluations(api), before, 'the same address is answered from the cache');
      assert.equal((await list(office, '10.1.2.4')).status, 200);
      assert.equal(await evaluations(api), before + 1, 'another address is decided');

      assert.equal((await at(MONDAY_10, () => list(hours, '10.1.2.3'))).status, 200);
      before = await evaluations(api);
      assert.equal((await at(MONDAY_10, () => list(hours, '10.1.2.3'))).status, 200);
      assert.equal(await evaluations(api), before + 1, 'a policy reading the time is never cached');
    });

    test('a policy using a context attribute that does not exist, or misusing one, is refused', async () => {
      const tenant = await api.tenant('ctx-invalid');
      const mfa = await api.call('PUT', '/v1/policies', tenant.key, {
        policies:
          'permit (principal, action, resource);\nforbid (principal, action, resource)\n  unless { context.mfa };',
      });
      assert.equal(mfa.status, 422, JSON.stringify(mfa.body));
      assert.equal(mfa.body.code, 'PALISADE_POLICY_INVALID');
      assert.deepEqual(mfa.body.errors, [
        {
          path: '/body/policies#policy1',
          message:
            'for policy `policy1`, attribute `mfa` in context not found at line 3, column 12; did you mean `ip`?',
        },
      ]);
      const misused = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: 'forbid (principal, action, resource) unless { context.ip == "10.0.0.1" };',
      });
      assert.equal(misused.status, 422);
      assert.equal(misused.body.errors[0].path, '/body/policies#policy0');
      assert.match(misused.body.errors[0].message, /String and ipaddr.*line 1, column 47/);
      const shown = await api.call('GET', '/v1/policies', tenant.key);
      assert.equal(shown.status, 404, 'nothing was stored');
    });
  });
}
