import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { BusMessage } from '../src/bus/index.ts';
import { uuid7 } from '../src/ids/index.ts';
import { issueTenantContext } from '../src/tenancy/tenant-context.ts';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { DEVICE_ATTACKS, type DeviceVictim, deviceVictim } from './support/device-attacks.ts';
import { signedBatch, signingNode } from './support/edge-nodes.ts';

interface Victim extends DeviceVictim {
  readonly edgeNodeId: string;
  readonly tenantId: string;
  readonly keyId: string;
  readonly recordId: string;
  readonly jobId: string;
  readonly userId: string;
  readonly inviteToken: string;
  readonly clientId: string;
}

type Attack = (api: TestApi, attackerKey: string, victim: Victim) => Promise<Reply>;

/** The browser origin on tenant A's CORS allow-list. */
const VICTIM_ORIGIN = 'https://victim.example';

/** The device type tenant A has edge rules for. */
const VICTIM_TYPE = 'victim-sensor';

/** Tenant A's custom role and Cedar policy set ("Ada" in them would show a leak). */
const VICTIM_ROLE = 'auditor';
const VICTIM_POLICIES = `// Ada's policy set
permit (principal, action, resource);
forbid (principal, action == Palisade::Action::"keys:rotate", resource);`;
/** Tenant B's policy set, in force for every attack: it permits all, and still reaches nothing of A's. */
const PERMIT_ALL = 'permit (principal, action, resource);';

/** Fresh Ed25519 and ML-DSA-65 public keys, as an edge node enrolls them (base64 SPKI DER). */
function edgePublicKeys(): { ed25519: string; mldsa65: string } {
  const spki = (type: 'ed25519' | 'ml-dsa-65') =>
    generateKeyPairSync(type as 'ed25519')
      .publicKey.export({ format: 'der', type: 'spki' })
      .toString('base64');
  return { ed25519: spki('ed25519'), mldsa65: spki('ml-dsa-65') };
}

/** Tenant A's user and the token of their unused invitation. */
async function userVictim(api: TestApi, key: string) {
  const created = await api.call('POST', '/v1/users', key, {
    email: 'ada@example.com',
    name: 'Ada Lovelace',
    roles: ['viewer'],
  });
  return {
    userId: created.body.user.id as string,
    inviteToken: (created.body.invitation.link as string).split('/').at(-1)!,
  };
}

/**
 * Every route of the API, keyed as in the OpenAPI document, with what tenant B tries against
 * tenant A. A route added without an entry here fails the coverage test below.
 */
const ATTACKS: Record<string, { readonly expect: number; readonly attack: Attack }> = {
  'get /v1/collections': {
    expect: 200,
    attack: (api, key) => api.call('GET', '/v1/collections', key),
  },
  'get /v1/collections/{name}': {
    expect: 404,
    attack: (api, key) => api.call('GET', '/v1/collections/people', key),
  },
  'put /v1/collections/{name}': {
    expect: 201,
    attack: (api, key) =>
      api.call('PUT', '/v1/collections/people', key, { schema: { type: 'object' } }),
  },
  'post /v1/collections/{name}/records': {
    expect: 201,
    attack: (api, key) =>
      api.call('POST', '/v1/collections/people/records', key, { injected: true }),
  },
  'get /v1/collections/{name}/records': {
    expect: 200,
    attack: (api, key) => api.call('GET', '/v1/collections/people/records?filter[name]=Ada', key),
  },
  'get /v1/collections/{name}/records/{id}': {
    expect: 404,
    attack: (api, key, v) => api.call('GET', `/v1/collections/people/records/${v.recordId}`, key),
  },
  'put /v1/collections/{name}/records/{id}': {
    expect: 404,
    attack: (api, key, v) =>
      api.call('PUT', `/v1/collections/people/records/${v.recordId}`, key, { name: 'Mallory' }),
  },
  'patch /v1/collections/{name}/records/{id}': {
    expect: 404,
    attack: (api, key, v) =>
      api.call(
        'PATCH',
        `/v1/collections/people/records/${v.recordId}`,
        key,
        { name: 'Mallory' },
        { 'if-match': '*' },
      ),
  },
  'delete /v1/collections/{name}/records/{id}': {
    expect: 404,
    attack: (api, key, v) =>
      api.call('DELETE', `/v1/collections/people/records/${v.recordId}`, key),
  },
  'post /v1/platform/tenants': {
    expect: 403,
    attack: (api, key) =>
      api.call('POST', '/v1/platform/tenants', key, { slug: 'mallory', name: 'M' }),
  },
  'get /v1/platform/tenants': {
    expect: 403,
    attack: (api, key) => api.call('GET', '/v1/platform/tenants', key),
  },
  'get /v1/platform/tenants/{id}': {
    expect: 403,
    attack: (api, key, v) => api.call('GET', `/v1/platform/tenants/${v.tenantId}`, key),
  },
  'patch /v1/platform/tenants/{id}': {
    expect: 403,
    attack: (api, key, v) =>
      api.call('PATCH', `/v1/platform/tenants/${v.tenantId}`, key, { status: 'suspended' }),
  },
  'delete /v1/platform/tenants/{id}': {
    expect: 403,
    attack: (api, key, v) => api.call('DELETE', `/v1/platform/tenants/${v.tenantId}`, key),
  },
  'post /v1/platform/tenants/{id}/api-keys': {
    expect: 403,
    attack: (api, key, v) =>
      api.call('POST', `/v1/platform/tenants/${v.tenantId}/api-keys`, key, {}),
  },
  'get /v1/platform/tenants/{id}/api-keys': {
    expect: 403,
    attack: (api, key, v) => api.call('GET', `/v1/platform/tenants/${v.tenantId}/api-keys`, key),
  },
  'delete /v1/platform/tenants/{id}/api-keys/{keyId}': {
    expect: 403,
    attack: (api, key, v) =>
      api.call('DELETE', `/v1/platform/tenants/${v.tenantId}/api-keys/${v.keyId}`, key),
  },
  'get /v1/ledger/checkpoint': {
    expect: 200,
    attack: (api, key) => api.call('GET', '/v1/ledger/checkpoint', key),
  },
  'get /v1/ledger/entries': {
    expect: 200,
    attack: (api, key) => api.call('GET', '/v1/ledger/entries?start=0&end=1000', key),
  },
  'get /v1/ledger/batches': {
    expect: 200,
    attack: (api, key) => api.call('GET', '/v1/ledger/batches?start=0&end=1000', key),
  },
  'get /v1/ledger/proof/inclusion': {
    expect: 400,
    attack: (api, key) => api.call('GET', '/v1/ledger/proof/inclusion?index=0&size=1000', key),
  },
  'get /v1/ledger/proof/consistency': {
    expect: 400,
    attack: (api, key) => api.call('GET', '/v1/ledger/proof/consistency?from=1&to=1000', key),
  },
  'get /v1/ledger/tile/{path}': {
    expect: 404,
    attack: (api, key) => api.call('GET', '/v1/ledger/tile/0/000.p/200', key),
  },
  'get /v1/collections/{name}/records/{id}/proof': {
    expect: 404,
    attack: (api, key, v) =>
      api.call('GET', `/v1/collections/people/records/${v.recordId}/proof`, key),
  },
  'get /v1/ledger/export': {
    expect: 200,
    attack: (api, key) => api.call('GET', '/v1/ledger/export', key),
  },
  'get /v1/platform/tenants/{id}/ledger/export': {
    expect: 403,
    attack: (api, key, v) =>
      api.call('GET', `/v1/platform/tenants/${v.tenantId}/ledger/export`, key),
  },
  'get /v1/platform/ledger/keys': {
    expect: 200,
    attack: (api, key) => api.call('GET', '/v1/platform/ledger/keys', key),
  },
  'post /v1/keys/rotate': {
    expect: 202,
    attack: (api, key) => api.call('POST', '/v1/keys/rotate', key),
  },
  'get /v1/keys': { expect: 200, attack: (api, key) => api.call('GET', '/v1/keys', key) },
  'get /v1/keys/jobs/{id}': {
    expect: 404,
    attack: (api, key, v) => api.call('GET', `/v1/keys/jobs/${v.jobId}`, key),
  },
  'post /v1/platform/tenants/{id}/keys/rotate': {
    expect: 403,
    attack: (api, key, v) =>
      api.call('POST', `/v1/platform/tenants/${v.tenantId}/keys/rotate`, key),
  },
  'get /v1/platform/tenants/{id}/keys': {
    expect: 403,
    attack: (api, key, v) => api.call('GET', `/v1/platform/tenants/${v.tenantId}/keys`, key),
  },
  'get /v1/platform/tenants/{id}/keys/jobs/{jobId}': {
    expect: 403,
    attack: (api, key, v) =>
      api.call('GET', `/v1/platform/tenants/${v.tenantId}/keys/jobs/${v.jobId}`, key),
  },
  ...(DEVICE_ATTACKS as Record<string, { readonly expect: number; readonly attack: Attack }>),
  'post /v1/edge-nodes/enrollment-tokens': {
    expect: 201,
    attack: (api, key) => api.call('POST', '/v1/edge-nodes/enrollment-tokens', key, { name: 'b' }),
  },
  'get /v1/edge-nodes': {
    expect: 200,
    attack: (api, key) => api.call('GET', '/v1/edge-nodes', key),
  },
  'get /v1/usage': {
    expect: 200,
    attack: async (api, key, v) => {
      const reply = await api.call('GET', '/v1/usage', key);
      assert.notEqual(reply.body.tenant, v.tenantId, "usage answers the caller's tenant only");
      return reply;
    },
  },
  'get /v1/usage/objects': {
    expect: 200,
    attack: async (api, key, v) => {
      const reply = await api.call('GET', '/v1/usage/objects', key);
      assert.notEqual(reply.body.tenant, v.tenantId, "holdings count the caller's tenant only");
      return reply;
    },
  },
  'get /v1/settings/cors': {
    expect: 200,
    attack: async (api, key) => {
      const reply = await api.call('GET', '/v1/settings/cors', key);
      assert.ok(!reply.body.origins.includes(VICTIM_ORIGIN), "B reads its own list, not A's");
      return reply;
    },
  },
  'put /v1/settings/cors': {
    expect: 200,
    attack: async (api, key, v) => {
      const reply = await api.call('PUT', '/v1/settings/cors', key, {
        origins: ['https://mallory.example'],
      });
      const victims = await api.platform.stores.controlPlane.cors.listOrigins(v.tenantId);
      assert.deepEqual(victims, [VICTIM_ORIGIN], "B's list is its own; A's is unchanged");
      return reply;
    },
  },
  // A preflight names no tenant: it answers for origins some tenant allows (cors-api.test.ts).
  'options /{path}': {
    expect: 204,
    attack: (api, key) =>
      api.call('OPTIONS', '/v1/collections', key, undefined, {
        origin: 'https://mallory.example',
        'access-control-request-method': 'GET',
      }),
  },
  'patch /v1/edge-nodes/{id}': {
    expect: 404,
    attack: (api, key, v) =>
      api.call('PATCH', `/v1/edge-nodes/${v.edgeNodeId}`, key, { disabled: true }),
  },
  'post /v1/edge-nodes/{id}/rekey': {
    expect: 404,
    attack: (api, key, v) => api.call('POST', `/v1/edge-nodes/${v.edgeNodeId}/rekey`, key),
  },
  'get /v1/edge-nodes/{id}/alerts': {
    expect: 404,
    attack: (api, key, v) => api.call('GET', `/v1/edge-nodes/${v.edgeNodeId}/alerts`, key),
  },
  // The node routes ignore tenant keys: only a token or node credential of A's would work.
  'post /v1/edge/enroll': {
    expect: 401,
    attack: (api, key) =>
      api.call('POST', '/v1/edge/enroll', key, { token: key, ...edgePublicKeys() }),
  },
  'post /v1/edge/batches': {
    expect: 401,
    attack: (api, key, v) =>
      api.call('POST', '/v1/edge/batches', key, {
        nodeId: v.edgeNodeId,
        batchId: 'b1',
        createdAt: new Date().toISOString(),
        messages: [{ deviceId: v.deviceId, payload: { injected: 1 }, receivedAt: 1 }],
        signatures: { ed25519: 'AA==', mldsa65: 'AA==' },
      }),
  },
  // edge-credential-sync.test.ts: B's node gets B's device credentials only, never A's.
  'get /v1/edge/device-credentials': {
    expect: 401,
    attack: (api, key) => api.call('GET', '/v1/edge/device-credentials', key),
  },
  // edge-credential-sync.test.ts: B's node gets B's device CAs only, never A's.
  'get /v1/edge/device-cas': {
    expect: 401,
    attack: (api, key) => api.call('GET', '/v1/edge/device-cas', key),
  },
  'get /v1/edge-rules': {
    expect: 200,
    attack: async (api, key) => {
      const reply = await api.call('GET', '/v1/edge-rules', key);
      assert.deepEqual(reply.body.items, [], "B lists no rule set of A's");
      return reply;
    },
  },
  'get /v1/edge-rules/{deviceType}': {
    expect: 404,
    attack: (api, key) => api.call('GET', `/v1/edge-rules/${VICTIM_TYPE}`, key),
  },
  'put /v1/edge-rules/{deviceType}': {
    expect: 200,
    attack: (api, key) =>
      api.call('PUT', `/v1/edge-rules/${VICTIM_TYPE}`, key, {
        rules: [{ kind: 'filter', drop: ['temperature'] }],
      }),
  },
  'delete /v1/edge-rules/{deviceType}': {
    expect: 204,
    attack: (api, key) => api.call('DELETE', `/v1/edge-rules/${VICTIM_TYPE}`, key),
  },
  // edge-rules-platform.test.ts: B's node pulls B's rules only, never A's.
  'get /v1/edge/rules': {
    expect: 401,
    attack: (api, key) => api.call('GET', '/v1/edge/rules', key),
  },
  // edge-rpc.test.ts: B's node never receives A's requests nor answers them;
  // edge-shared-attributes.test.ts: nor receives A's devices' shared attributes.
  'post /v1/edge/rpc': {
    expect: 401,
    attack: (api, key) =>
      api.call('POST', '/v1/edge/rpc', key, { responses: [], received: [], waitMs: 0 }),
  },
  'get /v1/roles': {
    expect: 200,
    attack: async (api, key) => {
      // A cursor names a role, not a tenant's: from the last built-in one, B's custom roles.
      const fromCursor = await api.call('GET', `/v1/roles?cursor=${btoa('device')}`, key);
      assert.ok(fromCursor.body.items.every((r: { name: string }) => r.name !== VICTIM_ROLE));
      const reply = await api.call('GET', '/v1/roles', key);
      assert.ok(reply.body.items.every((r: { name: string }) => r.name !== VICTIM_ROLE));
      return reply;
    },
  },
  'get /v1/roles/{name}': {
    expect: 404,
    attack: (api, key) => api.call('GET', `/v1/roles/${VICTIM_ROLE}`, key),
  },
  'put /v1/roles/{name}': {
    expect: 201,
    attack: (api, key) =>
      api.call('PUT', `/v1/roles/${VICTIM_ROLE}`, key, { permissions: ['keys:read'] }),
  },
  'delete /v1/roles/{name}': {
    expect: 204,
    attack: (api, key) => api.call('DELETE', `/v1/roles/${VICTIM_ROLE}`, key),
  },
  'get /v1/policies': {
    expect: 200,
    attack: async (api, key) => {
      const reply = await api.call('GET', '/v1/policies', key);
      assert.equal(reply.body.policies, PERMIT_ALL, "B reads its own policy set, not A's");
      return reply;
    },
  },
  'put /v1/policies': {
    expect: 200,
    attack: (api, key) => api.call('PUT', '/v1/policies', key, { policies: PERMIT_ALL }),
  },
  'delete /v1/policies': {
    expect: 204,
    attack: async (api, key) => {
      const reply = await api.call('DELETE', '/v1/policies', key);
      await api.call('PUT', '/v1/policies', key, { policies: PERMIT_ALL });
      return reply;
    },
  },
  'get /v1/policies/schema': {
    expect: 200,
    attack: (api, key) => api.call('GET', '/v1/policies/schema', key),
  },
  'post /v1/clients': {
    expect: 201,
    attack: (api, key) =>
      api.call('POST', '/v1/clients', key, { name: 'b', kind: 'service', roles: ['viewer'] }),
  },
  'get /v1/clients': {
    expect: 200,
    attack: (api, key) => api.call('GET', '/v1/clients', key),
  },
  'get /v1/clients/{id}': {
    expect: 404,
    attack: (api, key, v) => api.call('GET', `/v1/clients/${v.clientId}`, key),
  },
  'delete /v1/clients/{id}': {
    expect: 404,
    attack: (api, key, v) => api.call('DELETE', `/v1/clients/${v.clientId}`, key),
  },
  // A's issuer does not know B's credentials: not as an access token, not as a client secret.
  'get /t/{slug}/{path}': {
    expect: 200,
    attack: (api, key) => api.call('GET', '/t/victim/jwks', key),
  },
  'post /t/{slug}/{path}': {
    expect: 401,
    attack: (api, key, v) =>
      api.call('POST', '/t/victim/token', undefined, 'grant_type=client_credentials', {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${v.clientId}:${key}`).toString('base64')}`,
      }),
  },
  'get /t/{slug}/interaction/{uid}': {
    expect: 400,
    attack: (api, key) =>
      api.call('GET', '/t/victim/interaction/x1', undefined, undefined, {
        cookie: `_interaction=${key}`,
      }),
  },
  'post /t/{slug}/interaction/{uid}': {
    expect: 400,
    attack: (api, key) =>
      api.call('POST', '/t/victim/interaction/x1', undefined, 'step=consent', {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `_interaction=${key}`,
      }),
  },
  'post /v1/users': {
    expect: 201,
    attack: (api, key) =>
      api.call('POST', '/v1/users', key, { email: 'ada@example.com', name: 'Mallory' }),
  },
  'get /v1/users': { expect: 200, attack: (api, key) => api.call('GET', '/v1/users', key) },
  'get /v1/users/{id}': {
    expect: 404,
    attack: (api, key, v) => api.call('GET', `/v1/users/${v.userId}`, key),
  },
  'patch /v1/users/{id}': {
    expect: 404,
    attack: (api, key, v) =>
      api.call('PATCH', `/v1/users/${v.userId}`, key, { roles: ['owner'], disabled: false }),
  },
  'delete /v1/users/{id}': {
    expect: 404,
    attack: (api, key, v) => api.call('DELETE', `/v1/users/${v.userId}`, key),
  },
  'post /v1/users/{id}/invitation': {
    expect: 404,
    attack: (api, key, v) => api.call('POST', `/v1/users/${v.userId}/invitation`, key),
  },
  'delete /v1/users/{id}/totp': {
    expect: 404,
    attack: (api, key, v) => api.call('DELETE', `/v1/users/${v.userId}/totp`, key),
  },
  // Only a user's own access token reaches these, and then only that user (the token's
  // subject, in its issuer's tenant): test/users-own-account.test.ts signs a user of another
  // tenant in. B's API key and service client are no user.
  'get /v1/users/me': { expect: 403, attack: (api, key) => api.call('GET', '/v1/users/me', key) },
  'post /v1/users/me/password': {
    expect: 403,
    attack: (api, key) =>
      api.call('POST', '/v1/users/me/password', key, {
        currentPassword: 'mallory was here',
        newPassword: 'mallory was here too',
      }),
  },
  'post /v1/users/me/totp': {
    expect: 403,
    attack: (api, key) =>
      api.call('POST', '/v1/users/me/totp', key, { currentPassword: 'mallory was here' }),
  },
  'post /v1/users/me/totp/confirm': {
    expect: 403,
    attack: (api, key) => api.call('POST', '/v1/users/me/totp/confirm', key, { code: '123456' }),
  },
  'post /v1/users/me/totp/removal': {
    expect: 403,
    attack: (api, key) =>
      api.call('POST', '/v1/users/me/totp/removal', key, {
        currentPassword: 'mallory was here',
        totpCode: '123456',
      }),
  },
  // A's invitation token shown under B's slug is unknown there, as if made up.
  'get /t/{slug}/invite/{token}': {
    expect: 404,
    attack: (api, key, v) => api.call('GET', `/t/attacker/invite/${v.inviteToken}`, key),
  },
  'post /t/{slug}/invite/{token}': {
    expect: 404,
    attack: (api, key, v) =>
      api.call('POST', `/t/attacker/invite/${v.inviteToken}`, key, {
        password: 'mallory was here',
        confirm: 'mallory was here',
      }),
  },
  'post /v1/issuer/keys/rotate': {
    expect: 204,
    attack: (api, key) => api.call('POST', '/v1/issuer/keys/rotate', key),
  },
  'get /healthz': { expect: 200, attack: (api, key) => api.call('GET', '/healthz', key) },
  'get /readyz': { expect: 200, attack: (api, key) => api.call('GET', '/readyz', key) },
  'get /metrics': { expect: 200, attack: (api, key) => api.call('GET', '/metrics', key) },
  'get /v1/openapi.json': {
    expect: 200,
    attack: (api, key) => api.call('GET', '/v1/openapi.json', key),
  },
  // test/graphql-cross-tenant.test.ts tries every GraphQL field, with A's ids, one by one.
  'post /v1/graphql': {
    expect: 200,
    attack: (api, key) =>
      api.call('POST', '/v1/graphql', key, {
        query: `{
          collections { name records(limit: 20) { items { id data } } }
          ledger { checkpoint { size } entries(start: 0, end: 1000) { entry } }
        }`,
      }),
  },
};

/**
 * Routes that take the attacker's credential as a device or edge secret in the path or body:
 * an OAuth access token is too long to be one and is refused by the schema before any lookup.
 */
const SECRET_IN_REQUEST = new Set([
  'post /api/v1/provision',
  'post /api/v1/{deviceToken}/telemetry',
  'post /api/v1/{deviceToken}/attributes',
  'post /v1/edge/enroll',
]);

/** Everything tenant A can observe of itself, to compare before and after the attacks. */
async function snapshot(api: TestApi, key: string, tenantId: string): Promise<unknown> {
  const collections = await api.call('GET', '/v1/collections', key);
  const records = await api.call('GET', '/v1/collections/people/records', key);
  const tenant = await api.call('GET', `/v1/platform/tenants/${tenantId}`, ADMIN_TOKEN);
  const keys = await api.call('GET', `/v1/platform/tenants/${tenantId}/api-keys`, ADMIN_TOKEN);
  const dataKeys = await api.call('GET', '/v1/keys', key);
  const clients = await api.call('GET', '/v1/clients', key);
  const issuerKeys = await api.call('GET', '/t/victim/jwks', undefined);
  const devices = await api.call('GET', '/v1/devices', key);
  const deviceCas = await api.call('GET', '/v1/device-cas', key);
  const users = await api.call('GET', '/v1/users', key);
  const edgeRules = await api.call('GET', '/v1/edge-rules', key);
  const roles = await api.call('GET', '/v1/roles', key);
  const policies = await api.call('GET', '/v1/policies', key);
  return {
    roles: roles.body,
    policies: policies.body,
    edgeRules: edgeRules.body,
    devices: devices.body,
    deviceCas: deviceCas.body,
    users: users.body,
    collections: collections.body,
    records: records.body,
    tenant: tenant.body,
    keys: keys.body,
    dataKeys: dataKeys.body,
    clients: clients.body,
    issuerKeys: issuerKeys.body,
  };
}

for (const backend of backendNames()) {
  describe(`cross-tenant isolation on ${backend}`, () => {
    let api: TestApi;
    let a: { id: string; key: string; keyId: string };
    let b: { id: string; key: string; keyId: string };
    let victim: Victim;

    before(async () => {
      api = await TestApi.start(backend);
      a = await api.tenant('victim');
      b = await api.tenant('attacker');
      await api.call('PUT', '/v1/collections/people', a.key, { schema: PEOPLE_SCHEMA });
      const record = await api.call('POST', '/v1/collections/people/records', a.key, {
        name: 'Ada',
      });
      await api.call('PUT', '/v1/settings/cors', a.key, { origins: [VICTIM_ORIGIN] });
      const job = await api.call('POST', '/v1/keys/rotate', a.key);
      // Done before any attack: a job that finished during one would retire key version 1
      // between the before and after snapshots. The deadline only bounds a hung job.
      let state: string | undefined;
      for (const deadline = Date.now() + 60_000; state !== 'done' && Date.now() < deadline; ) {
        state = (await api.call('GET', `/v1/keys/jobs/${job.body.id}`, a.key)).body.state;
        if (state !== 'done') await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(state, 'done', "A's key job did not finish");
      const enrollment = await api.call('POST', '/v1/edge-nodes/enrollment-tokens', a.key, {
        name: 'Ada edge',
      });
      const node = await api.call('POST', '/v1/edge/enroll', undefined, {
        token: enrollment.body.token,
        ...edgePublicKeys(),
      });
      await api.call('PUT', `/v1/edge-rules/${VICTIM_TYPE}`, a.key, {
        rules: [{ kind: 'alert', name: 'hot', key: 'temperature', above: 80 }],
      });
      const client = await api.call('POST', '/v1/clients', a.key, {
        name: 'Ada app',
        kind: 'service',
        roles: ['owner'],
      });
      victim = {
        clientId: client.body.id,
        edgeNodeId: node.body.nodeId,
        tenantId: a.id,
        keyId: a.keyId,
        recordId: record.body.id,
        jobId: job.body.id,
        ...(await userVictim(api, a.key)),
        ...(await deviceVictim(api, a.key)),
      };
      await api.call('PUT', `/v1/roles/${VICTIM_ROLE}`, a.key, {
        description: "Ada's auditors",
        permissions: ['ledger:read'],
      });
      await api.call('PUT', '/v1/policies', a.key, { policies: VICTIM_POLICIES });
      await api.call('PUT', '/v1/policies', b.key, { policies: PERMIT_ALL });
    });
    after(() => api.close());

    test('the attack table covers every route the server has', async () => {
      const doc = (await api.call('GET', '/v1/openapi.json', undefined)).body as {
        paths: Record<string, Record<string, unknown>>;
      };
      const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((m) => `${m} ${path}`),
      );
      assert.deepEqual(
        routes.filter((r) => !(r in ATTACKS)),
        [],
        'routes missing from the cross-tenant suite',
      );
      assert.deepEqual(
        Object.keys(ATTACKS).filter((r) => !routes.includes(r)),
        [],
        'attacks on routes that no longer exist',
      );
    });

    async function attackEverything(attacker: string): Promise<void> {
      const before = await snapshot(api, a.key, a.id);
      for (const [route, { expect, attack }] of Object.entries(ATTACKS)) {
        const reply = await attack(api, attacker, victim);
        const allowed = SECRET_IN_REQUEST.has(route) && attacker !== b.key ? [400, 414] : [expect];
        assert.ok(
          allowed.includes(reply.status),
          `${route}: ${reply.status} ${JSON.stringify(reply.body)}`,
        );
        const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
        if (!route.includes('{id}'))
          assert.ok(!text.includes(victim.recordId), `${route} leaks A's record id`);
        if (expect === 404) {
          const ghost = {
            ...victim,
            recordId: uuid7(),
            jobId: uuid7(),
            deviceId: uuid7(),
            credentialId: uuid7(),
            rpcId: uuid7(),
            caId: uuid7(),
            generatedCaId: uuid7(),
            edgeNodeId: uuid7(),
            gatewayId: uuid7(),
            userId: uuid7(),
            inviteToken: randomBytes(32).toString('base64url'),
            clientId: uuid7(),
          };
          const control = await attack(api, attacker, ghost);
          assert.deepEqual(
            JSON.parse(JSON.stringify(reply.body).replaceAll(victim.recordId, 'ID')),
            JSON.parse(JSON.stringify(control.body).replaceAll(ghost.recordId, 'ID')),
            `${route}: A's record must look exactly like one that does not exist`,
          );
        }
        // A's names as JSON shows them ("Ada…", "Ada's…"), never inside a base64 or hex value.
        assert.ok(!/["\s]Ada[\s"']/.test(text), `${route} leaks A's data`);
        if (
          !route.includes('/platform/') &&
          !route.includes('openapi') &&
          !route.includes('metrics')
        ) {
          assert.ok(!text.includes(victim.tenantId), `${route} leaks A's tenant id`);
        }
      }
      assert.deepEqual(await snapshot(api, a.key, a.id), before);
    }

    test("tenant B's key against every route with tenant A's ids finds nothing and changes nothing", () =>
      attackEverything(b.key));

    test("a third tenant's OAuth access token (client credentials, role owner) against every route finds nothing and changes nothing", async () => {
      const c = await api.tenant('oauth-attacker');
      await api.call('PUT', '/v1/policies', c.key, { policies: PERMIT_ALL });
      const client = await api.call('POST', '/v1/clients', c.key, {
        name: 'attacker',
        kind: 'service',
        roles: ['owner'],
      });
      const basic = Buffer.from(`${client.body.id}:${client.body.secret}`).toString('base64');
      const token = await api.call(
        'POST',
        '/t/oauth-attacker/token',
        undefined,
        'grant_type=client_credentials',
        {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${basic}`,
        },
      );
      assert.equal(token.status, 200, JSON.stringify(token.body));
      await attackEverything(token.body.access_token);
    });

    test("what B created under the same names stays B's", async () => {
      const bRecords = await api.call('GET', '/v1/collections/people/records', b.key);
      assert.deepEqual(
        bRecords.body.items.map((r: { data: unknown }) => r.data),
        [{ injected: true }],
      );
      const aRecords = await api.call('GET', '/v1/collections/people/records', a.key);
      assert.deepEqual(
        aRecords.body.items.map((r: { data: unknown }) => r.data),
        [{ name: 'Ada' }],
      );
    });

    test("batch sequence numbers are counted per node: B's node using A's node's number is no copy of it", async () => {
      const nodeOfA = await signingNode(api, a.key, 'seq-a');
      const nodeOfB = await signingNode(api, b.key, 'seq-b');
      const message = { deviceId: uuid7(), payload: { n: 1 }, receivedAt: Date.now() };
      for (const node of [nodeOfA, nodeOfB]) {
        const batch = signedBatch(node, 'seq-1', [message], node, 1);
        const reply = await api.call('POST', '/v1/edge/batches', node.credential, batch);
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
      }
      const stolen = signedBatch(nodeOfA, 'seq-2', [message], nodeOfB, 2);
      const forged = await api.call('POST', '/v1/edge/batches', nodeOfB.credential, stolen);
      assert.equal(forged.status, 403, "B's node cannot count as A's");
      for (const [node, key] of [
        [nodeOfA, a.key],
        [nodeOfB, b.key],
      ] as const) {
        const alerts = await api.call('GET', `/v1/edge-nodes/${node.nodeId}/alerts`, key);
        assert.deepEqual(alerts.body.items, [], 'no copy alerted');
      }
    });

    test("B's own edge node cannot write A's devices, not even one behind A's node: they read as missing", async () => {
      const behind = await api.call('POST', '/v1/devices', a.key, {
        name: 'behind-the-edge',
        edgeNodeId: victim.edgeNodeId,
      });
      assert.equal(behind.status, 201, JSON.stringify(behind.body));
      const ledgerOfA = async () =>
        (await api.call('GET', '/v1/ledger/entries?start=0&end=1000', a.key)).body.entries.length;
      const entries = await ledgerOfA();
      const node = await signingNode(api, b.key, 'mallory-gw');
      const receivedAt = Date.now();
      const messages = [behind.body.id, victim.deviceId, uuid7()].flatMap((deviceId) => [
        { deviceId, payload: { injected: 1 }, receivedAt },
        { deviceId, payload: { injected: true }, receivedAt, kind: 'attributes' },
      ]);
      const reply = await api.call(
        'POST',
        '/v1/edge/batches',
        node.credential,
        signedBatch(node, 'b1', messages),
      );
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(reply.body, {
        batchId: 'b1',
        applied: 0,
        points: 0,
        refused: messages.map((_, index) => ({ index, code: 'PALISADE_DEVICE_NOT_FOUND' })),
      });
      for (const id of [behind.body.id, victim.deviceId]) {
        const stored = await api.call(
          'GET',
          `/v1/devices/${id}/telemetry?keys=injected&from=0&to=${receivedAt + 1}&limit=10`,
          a.key,
        );
        assert.deepEqual(stored.body, {});
        const device = await api.call('GET', `/v1/devices/${id}`, a.key);
        assert.equal(device.body.clientAttributes.injected, undefined);
      }
      assert.equal(await ledgerOfA(), entries, "nothing in A's ledger");
    });

    test('metrics are labelled by route, never by tenant or record id', async () => {
      const metrics = (await api.call('GET', '/metrics', undefined)).body as string;
      assert.match(metrics, /route="\/v1\/collections\/:name\/records\/:id"/);
      assert.ok(
        !metrics.includes(a.id) && !metrics.includes(b.id) && !metrics.includes(victim.recordId),
      );
    });

    // The bus suites (bus-conformance, bus-publishing) try subject injection on both buses.
    test("B's bus subscription sees B's events only, none of A's", async () => {
      const listed = await api.call('GET', '/v1/collections/people/records', b.key);
      const bRecord: string = listed.body.items[0].id;
      const tenant = (await api.platform.stores.controlPlane.getTenant(b.id))!;
      const context = issueTenantContext(tenant, { kind: 'api-key', id: b.keyId });
      const seen: BusMessage[] = [];
      let sawOwn!: () => void;
      const own = new Promise<void>((resolve) => {
        sawOwn = resolve;
      });
      const sub = await api.platform.bus.subscribe(context, {
        durable: 'attacker',
        handler: async (m) => {
          seen.push(m);
          await m.ack();
          if (m.key.includes(bRecord)) sawOwn();
        },
      });
      await own;
      await sub.stop();
      const text = JSON.stringify(
        seen.map(({ subject, id, payload }) => ({ subject, id, payload })),
      );
      assert.ok(seen.every((m) => m.tenantId === b.id));
      assert.ok(!text.includes(a.id) && !text.includes(victim.recordId));
      assert.ok(!/["\s]Ada[\s"']/.test(text));
    });

    // Last: it spends this address's sign-in attempts at the victim.
    test("A's sign-in attempts from an address do not spend B's at the same address", async () => {
      const attempt = (slug: string) =>
        api.http.inject({
          method: 'POST',
          url: `/t/${slug}/invite/${'x'.repeat(43)}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'password=a+long+enough+passphrase&confirm=a+long+enough+passphrase',
        });
      let status = 0;
      for (let i = 0; i < 25 && status !== 429; i++) status = (await attempt('victim')).statusCode;
      assert.equal(status, 429);
      assert.equal((await attempt('attacker')).statusCode, 404);
    });
  });
}
