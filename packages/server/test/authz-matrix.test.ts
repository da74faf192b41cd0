import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  BUILT_IN_ROLE_NAMES,
  BUILT_IN_ROLES,
  isPermission,
  type Permission,
} from '../src/authz/index.ts';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, TestApi } from './support/api.ts';

/**
 * The routes that name no permission, each reviewed: why it is not a tenant permission, and
 * how it authenticates instead. A route missing here that does not declare a permission, or
 * listed here with another auth, fails the test below.
 */
const NOT_A_PERMISSION: Readonly<
  Record<string, 'public' | 'edge-node' | 'admin' | 'tenant' | 'user'>
> = {
  // Probes, metrics and the API description: no tenant data.
  'get /healthz': 'public',
  'get /readyz': 'public',
  'get /metrics': 'public',
  'get /v1/openapi.json': 'public',
  // The ledger's public verifier keys: anyone checks checkpoints with them.
  'get /v1/platform/ledger/keys': 'public',
  // The platform admin's tenant lifecycle, API keys, keys and exports.
  'post /v1/platform/tenants': 'admin',
  'get /v1/platform/tenants': 'admin',
  'get /v1/platform/tenants/{id}': 'admin',
  'patch /v1/platform/tenants/{id}': 'admin',
  'delete /v1/platform/tenants/{id}': 'admin',
  'post /v1/platform/tenants/{id}/api-keys': 'admin',
  'get /v1/platform/tenants/{id}/api-keys': 'admin',
  'delete /v1/platform/tenants/{id}/api-keys/{keyId}': 'admin',
  'post /v1/platform/tenants/{id}/keys/rotate': 'admin',
  'get /v1/platform/tenants/{id}/keys': 'admin',
  'get /v1/platform/tenants/{id}/keys/jobs/{jobId}': 'admin',
  'get /v1/platform/tenants/{id}/ledger/export': 'admin',
  // Devices: the device token (or provisioning secret) in the path or body is the credential.
  'post /api/v1/provision': 'public',
  'post /api/v1/{deviceToken}/telemetry': 'public',
  'post /api/v1/{deviceToken}/attributes': 'public',
  // Edge nodes: a one-time enrollment token, then the node credential and signed batches.
  'post /v1/edge/enroll': 'public',
  'post /v1/edge/batches': 'edge-node',
  'get /v1/edge/device-credentials': 'edge-node',
  'get /v1/edge/device-cas': 'edge-node',
  'get /v1/edge/rules': 'edge-node',
  'post /v1/edge/rpc': 'edge-node',
  // The tenant's OAuth/OIDC issuer and its login, consent and invitation pages.
  'get /t/{slug}/interaction/{uid}': 'public',
  'post /t/{slug}/interaction/{uid}': 'public',
  'get /t/{slug}/{path}': 'public',
  'post /t/{slug}/{path}': 'public',
  'get /t/{slug}/invite/{token}': 'public',
  'post /t/{slug}/invite/{token}': 'public',
  // CORS preflights carry no credential; they name no tenant and reach no tenant data.
  'options /{path}': 'public',
  // GraphQL authorizes each field it resolves with the same Authorizer, by the field's permission.
  'post /v1/graphql': 'tenant',
  // A signed-in user's own account: their own access token only, whatever its roles; the user
  // is the token's subject (test/users-own-account.test.ts).
  'get /v1/users/me': 'user',
  'post /v1/users/me/password': 'user',
  'post /v1/users/me/totp': 'user',
  'post /v1/users/me/totp/confirm': 'user',
  'post /v1/users/me/totp/removal': 'user',
};

interface Route {
  readonly method: string;
  readonly path: string;
  readonly auth: string;
  readonly hasBody: boolean;
}

async function routesOf(api: TestApi): Promise<Route[]> {
  const doc = (await api.call('GET', '/v1/openapi.json', undefined)).body as {
    paths: Record<string, Record<string, { 'x-palisade-auth': string; requestBody?: unknown }>>;
  };
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method,
      path,
      auth: op['x-palisade-auth'],
      hasBody: op.requestBody !== undefined,
    })),
  );
}

/**
 * Streams never end under inject: a query the route's schema refuses makes an authorized call
 * answer 400 (validation runs after authorization) instead of opening the stream.
 */
const STREAMS: Readonly<Record<string, string>> = {
  'get /v1/telemetry/stream': '?deviceId=not-a-device',
};

/** A concrete URL for a route: the `people` collection, fresh ids for everything else. */
function urlOf(method: string, path: string): string {
  const suffix = STREAMS[`${method} ${path}`] ?? '';
  return `${path.replace(/\{([A-Za-z]+)\}/g, (_, name: string) => {
    if (name === 'name') return 'people';
    if (name === 'deviceType') return 'sensor';
    if (name === 'path') return 'x';
    return randomUUID();
  })}${suffix}`;
}

describe('authorization of every route', () => {
  let api: TestApi;
  let tenantId: string;
  const keys = new Map<string, string>();

  before(async () => {
    // Authorization is decided before any store is touched, so one backend is enough here.
    api = await TestApi.start('sqlite');
    const tenant = await api.tenant('matrix');
    tenantId = tenant.id;
    await api.call('PUT', '/v1/collections/people', tenant.key, { schema: PEOPLE_SCHEMA });
    for (const role of BUILT_IN_ROLE_NAMES) {
      const issued = await api.call(
        'POST',
        `/v1/platform/tenants/${tenantId}/api-keys`,
        ADMIN_TOKEN,
        {
          name: role,
          roles: [role],
        },
      );
      keys.set(role, issued.body.secret);
    }
  });
  after(() => api.close());

  test('the OpenAPI document names the credential each route takes', async () => {
    const doc = (await api.call('GET', '/v1/openapi.json', undefined)).body;
    assert.deepEqual(doc.paths['/v1/edge/batches'].post.security, [{ edgeNode: [] }]);
    assert.deepEqual(doc.paths['/v1/edge/enroll'].post.security, []);
    assert.deepEqual(doc.paths['/v1/collections'].get.security, [{ bearer: [] }]);
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['bearer', 'edgeNode']);
  });

  test('every route names a permission, or is on the reviewed list of those that do not', async () => {
    const routes = await routesOf(api);
    const undeclared = routes
      .filter((r) => !isPermission(r.auth))
      .filter((r) => NOT_A_PERMISSION[`${r.method} ${r.path}`] !== r.auth)
      .map((r) => `${r.method} ${r.path} (${r.auth})`);
    assert.deepEqual(undeclared, [], 'routes without a permission that nobody reviewed');
    const keys = new Set(routes.map((r) => `${r.method} ${r.path}`));
    assert.deepEqual(
      Object.keys(NOT_A_PERMISSION).filter((route) => !keys.has(route)),
      [],
      'reviewed routes that no longer exist',
    );
    const declared = routes.filter((r) => isPermission(r.auth)).map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(
      declared.filter((route) => route in NOT_A_PERMISSION),
      [],
      'routes that now name a permission belong off the list',
    );
  });

  test("a signed-in user's own routes refuse an API key of every role", async () => {
    const routes = (await routesOf(api)).filter((r) => r.auth === 'user');
    assert.equal(routes.length, 5);
    for (const role of BUILT_IN_ROLE_NAMES)
      for (const route of routes) {
        const reply = await api.call(
          route.method.toUpperCase() as 'GET',
          route.path,
          keys.get(role),
          route.hasBody ? {} : undefined,
        );
        assert.equal(reply.status, 403, `${role} ${route.method} ${route.path}`);
        assert.match(reply.body.detail, /an API key is no user/);
      }
  });

  test('each built-in role against each route: allowed exactly where its definition says', async () => {
    const routes = (await routesOf(api)).filter((r) => isPermission(r.auth));
    assert.ok(routes.length > 40, `${routes.length} routes with a permission`);
    const wrong: string[] = [];
    for (const role of BUILT_IN_ROLE_NAMES) {
      const granted = new Set<Permission>(BUILT_IN_ROLES[role]);
      for (const route of routes) {
        const reply = await api.call(
          route.method.toUpperCase() as 'GET',
          urlOf(route.method, route.path),
          keys.get(role),
          route.hasBody ? {} : undefined,
        );
        const forbidden = reply.status === 403 && reply.body.code === 'PALISADE_FORBIDDEN';
        const expected = granted.has(route.auth as Permission);
        if (forbidden === expected || reply.status === 401)
          wrong.push(
            `${role} ${route.method} ${route.path} (${route.auth}): expected ${expected ? 'allowed' : '403'}, got ${reply.status} ${reply.body.code ?? ''}`,
          );
      }
    }
    assert.deepEqual(wrong, []);
  });
});
