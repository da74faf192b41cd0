import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isLedgerError, type LedgerBundle, parseVerifierKey, verifyBundle } from '@palisade/ledger';
import { nodeHasher, nodeVerifyProvider } from '@palisade/ledger/node';
import { type CedarRequest, evaluate, loadPolicySet } from '../src/authz/cedar-engine.ts';
import { builtInRolePermissions, PermissionSet } from '../src/authz/index.ts';
import { issueTenantContext } from '../src/tenancy/tenant-context.ts';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

async function keyWith(api: TestApi, tenantId: string, roles: string[]): Promise<string> {
  const issued = await api.call('POST', `/v1/platform/tenants/${tenantId}/api-keys`, ADMIN_TOKEN, {
    roles,
  });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  return issued.body.secret;
}

function assertInvalid(reply: Reply, path: string, message: RegExp): void {
  assert.equal(reply.status, 422, JSON.stringify(reply.body));
  assert.equal(reply.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(reply.body.code, 'PALISADE_POLICY_INVALID');
  const match = reply.body.errors.find(
    (e: { path: string; message: string }) => e.path === path && message.test(e.message),
  );
  assert.ok(match, `no error at ${path} matching ${message}: ${JSON.stringify(reply.body.errors)}`);
}

const PAYROLL_FORBID = `// Developers may not write payroll records.
permit (principal, action, resource);
forbid (principal in Palisade::Role::"developer", action == Palisade::Action::"records:write", resource)
when { resource.collection == "payroll" };`;

for (const backend of backendNames()) {
  describe(`Cedar policies on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };
    let developer: string;
    let viewer: string;

    before(async () => {
      api = await TestApi.start(backend);
      tenant = await api.tenant('cedar');
      developer = await keyWith(api, tenant.id, ['developer']);
      viewer = await keyWith(api, tenant.id, ['viewer']);
      for (const name of ['people', 'payroll'])
        await api.call('PUT', `/v1/collections/${name}`, tenant.key, { schema: PEOPLE_SCHEMA });
    });
    after(() => api.close());

    test('a syntax error names its line and column; nothing is stored', async () => {
      const text =
        'permit (principal, action, resource);\nforbid (principal, action, resource)\n  when { resource.name == };';
      const reply = await api.call('PUT', '/v1/policies', tenant.key, { policies: text });
      assertInvalid(reply, '/body/policies', /unexpected token `}` at line 3, column 27/);
      const shown = await api.call('GET', '/v1/policies', tenant.key);
      assert.equal(shown.status, 404);
      assert.equal(shown.body.code, 'PALISADE_POLICY_SET_NOT_FOUND');
    });

    test('schema violations name the policy, the place and the fix', async () => {
      const text = [
        'permit (principal, action, resource);',
        'forbid (principal, action == Palisade::Action::"collections:read", resource)',
        '  when { resource.name == "payroll" };',
        'permit (principal, action == Palisade::Action::"records:delete", resource);',
        'forbid (principal, action, resource) when { principal.email == "x" };',
      ].join('\n');
      const reply = await api.call('PUT', '/v1/policies', tenant.key, { policies: text });
      assertInvalid(reply, '/body/policies#policy1', /optional attribute `name`.*line 3.*has name/);
      assertInvalid(reply, '/body/policies#policy2', /records:delete/);
      assertInvalid(reply, '/body/policies#policy3', /attribute `email`.*ApiKey.*line 5/);
      assert.deepEqual(
        [...new Set(reply.body.errors.map((e: { path: string }) => e.path))],
        ['/body/policies#policy1', '/body/policies#policy2', '/body/policies#policy3'],
        'policy0 is valid',
      );
    });

    test('templates and texts without a policy are refused', async () => {
      assertInvalid(
        await api.call('PUT', '/v1/policies', tenant.key, {
          policies: 'permit (principal == ?principal, action, resource);',
        }),
        '/body/policies',
        /templates/,
      );
      assertInvalid(
        await api.call('PUT', '/v1/policies', tenant.key, { policies: '// nothing here\n' }),
        '/body/policies',
        /no policy/,
      );
      const tooLong = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `// ${'x'.repeat(70_000)}`,
      });
      assert.equal(tooLong.status, 400);
      assert.equal(tooLong.body.errors[0].path, '/body/policies');
    });

    test('the schema is served; every permission is an action', async () => {
      const { status, body } = await api.call('GET', '/v1/policies/schema', viewer);
      assert.equal(status, 403, 'a viewer may not read policies');
      const shown = await api.call('GET', '/v1/policies/schema', tenant.key);
      assert.equal(shown.status, 200, JSON.stringify(body));
      for (const permission of PermissionSet.ALL.list())
        assert.ok(shown.body.schema.includes(`action "${permission}"`), permission);
      assert.match(shown.body.isolation, /^forbid/);
    });

    test('a forbid narrows a role: developers cannot write payroll, owners still can', async () => {
      const put = await api.call('PUT', '/v1/policies', tenant.key, { policies: PAYROLL_FORBID });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.equal(put.body.version, 1);
      const denied = await api.call('POST', '/v1/collections/payroll/records', developer, {
        name: 'Eve',
      });
      assert.equal(denied.status, 403);
      assert.equal(denied.body.code, 'PALISADE_FORBIDDEN');
      assert.match(denied.body.detail, /policies do not allow records:write/);
      const elsewhere = await api.call('POST', '/v1/collections/people/records', developer, {
        name: 'Eve',
      });
      assert.equal(elsewhere.status, 201);
      const owner = await api.call('POST', '/v1/collections/payroll/records', tenant.key, {
        name: 'Ada',
      });
      assert.equal(owner.status, 201);
      assert.equal(
        (await api.call('GET', '/v1/collections/payroll/records', developer)).status,
        200,
      );
    });

    test('with policies, only what a policy permits is allowed, and never beyond the roles', async () => {
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies:
          'permit (principal, action in [Palisade::Action::"collections:read", Palisade::Action::"policies:write", Palisade::Action::"policies:read"], resource);',
      });
      assert.equal(put.body.version, 2);
      assert.equal((await api.call('GET', '/v1/collections', tenant.key)).status, 200);
      assert.equal((await api.call('GET', '/v1/keys', tenant.key)).status, 403, 'not permitted');
      await api.call('PUT', '/v1/policies', tenant.key, {
        policies: 'permit (principal, action, resource);',
      });
      assert.equal((await api.call('GET', '/v1/keys', tenant.key)).status, 200);
      const beyond = await api.call('GET', '/v1/keys', viewer);
      assert.equal(beyond.status, 403, 'a permit does not widen a role');
      assert.match(beyond.body.detail, /keys:read.*\(viewer\)/);
    });

    test('removing the policy set leaves the roles alone to decide; each change is in the ledger', async () => {
      await api.call('PUT', '/v1/policies', tenant.key, { policies: PAYROLL_FORBID });
      assert.equal((await api.call('DELETE', '/v1/policies', tenant.key)).status, 204);
      assert.equal((await api.call('DELETE', '/v1/policies', tenant.key)).status, 404);
      const written = await api.call('POST', '/v1/collections/payroll/records', developer, {
        name: 'Eve',
      });
      assert.equal(written.status, 201);
      const { body } = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', tenant.key);
      const actions = body.entries
        .filter((e: { entry: { resource: string } }) => e.entry.resource === 'policies')
        .map((e: { entry: { action: string } }) => e.entry.action);
      assert.deepEqual(actions, [
        'policy-set.create',
        'policy-set.update',
        'policy-set.update',
        'policy-set.update',
        'policy-set.delete',
      ]);
    });

    test('a principal is a member of its custom roles too', async () => {
      await api.call('PUT', '/v1/roles/auditor', tenant.key, {
        permissions: ['collections:read', 'records:read'],
      });
      const auditor = await keyWith(api, tenant.id, ['auditor']);
      await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"auditor", action, resource is Palisade::Record)
when { resource.collection == "payroll" };`,
      });
      assert.equal((await api.call('GET', '/v1/collections/people/records', auditor)).status, 200);
      assert.equal((await api.call('GET', '/v1/collections/payroll/records', auditor)).status, 403);
      assert.equal(
        (await api.call('GET', '/v1/collections/payroll/records', tenant.key)).status,
        200,
        'the owner is no auditor',
      );
      await api.call('DELETE', '/v1/policies', tenant.key);
    });

    test("a record's proof shows its state, so it takes records:read on the record as well as ledger:read", async () => {
      const made = await api.call('POST', '/v1/collections/payroll/records', tenant.key, {
        name: 'Grace',
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const proofUrl = `/v1/collections/payroll/records/${made.body.id}/proof`;
      const query = `query($id: ID!) { ledger { recordProof(collection: "payroll", id: $id) { state } } }`;
      const graphql = (key: string) =>
        api.call('POST', '/v1/graphql', key, { query, variables: { id: made.body.id } });
      const refused = (reply: Reply, who: string) => {
        assert.equal(reply.status, 403, `${who}: ${JSON.stringify(reply.body)}`);
        assert.ok(!JSON.stringify(reply.body).includes('Grace'), `${who} read the record`);
      };
      await api.call('PUT', '/v1/roles/ledger-reader', tenant.key, {
        permissions: ['ledger:read'],
      });
      const ledgerReader = await keyWith(api, tenant.id, ['ledger-reader']);
      assert.equal((await api.call('GET', '/v1/ledger/checkpoint', ledgerReader)).status, 200);
      refused(await api.call('GET', proofUrl, ledgerReader), 'ledger:read alone, REST');
      refused(await graphql(ledgerReader), 'ledger:read alone, GraphQL');
      await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"developer", action == Palisade::Action::"records:read", resource)
when { resource.collection == "payroll" };`,
      });
      refused(await api.call('GET', proofUrl, developer), 'developer on payroll, REST');
      refused(await graphql(developer), 'developer on payroll, GraphQL');
      const owner = await api.call('GET', proofUrl, tenant.key);
      assert.equal(owner.status, 200, JSON.stringify(owner.body));
      assert.equal(owner.body.state.name, 'Grace');
      await api.call('DELETE', '/v1/policies', tenant.key);
      const allowed = await graphql(developer);
      assert.equal(allowed.body.data.ledger.recordProof.state.name, 'Grace');
    });

    /** The tenant ledger as `key` exports it, verified against the platform's keys. */
    async function exported(key: string) {
      const keys = (await api.call('GET', '/v1/platform/ledger/keys', undefined)).body.keys;
      const trusted = keys.map((k: string) => parseVerifierKey(k, nodeVerifyProvider));
      const reply = await api.call('GET', '/v1/ledger/export', key);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const bundle = reply.body as LedgerBundle;
      return {
        bundle,
        text: JSON.stringify(bundle),
        trusted,
        summary: await verifyBundle(nodeHasher, bundle, trusted),
      };
    }

    test('the ledger export carries only the records its exporter may read, and still verifies', async () => {
      await api.call('POST', '/v1/collections/people/records', tenant.key, {
        name: 'Ada Lovelace',
      });
      await api.call('POST', '/v1/collections/payroll/records', tenant.key, { name: 'Hopper' });
      await api.call('PUT', '/v1/roles/exporter', tenant.key, { permissions: ['ledger:export'] });
      const exporter = await keyWith(api, tenant.id, ['exporter']);
      const admin = await keyWith(api, tenant.id, ['admin']);
      const collectionsOf = (bundle: LedgerBundle) => [
        ...new Set(bundle.records!.map((r) => r.resource.split('/')[1])),
      ];
      const saltsOf = (bundle: LedgerBundle, collection: string) =>
        bundle.entries
          .filter((e) => e.entry.includes(`"collections/${collection}/records/`))
          .map((e) => e.salt);

      const alone = await exported(exporter);
      assert.ok(
        !alone.text.includes('Ada Lovelace') && !alone.text.includes('Hopper'),
        'ledger:export alone read records',
      );
      assert.deepEqual(alone.bundle.records, []);
      assert.deepEqual(alone.bundle.withheldCollections, ['payroll', 'people']);
      assert.ok(saltsOf(alone.bundle, 'payroll').every((salt) => salt === null));
      assert.equal(alone.summary.records, 0);
      assert.deepEqual(alone.summary.withheldCollections, ['payroll', 'people']);

      await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"admin", action == Palisade::Action::"records:read", resource)
when { resource.collection == "payroll" };`,
      });
      const partial = await exported(admin);
      assert.ok(partial.text.includes('Ada Lovelace'));
      assert.ok(!partial.text.includes('Hopper'), 'the export bypassed the forbid on payroll');
      assert.deepEqual(collectionsOf(partial.bundle), ['people']);
      assert.deepEqual(partial.bundle.withheldCollections, ['payroll']);
      assert.ok(saltsOf(partial.bundle, 'payroll').every((salt) => salt === null));
      assert.ok(saltsOf(partial.bundle, 'people').some((salt) => salt !== null));
      assert.deepEqual(partial.summary.withheldCollections, ['payroll']);
      await api.call('DELETE', '/v1/policies', tenant.key);

      const whole = await exported(admin);
      assert.ok(whole.text.includes('Hopper'));
      assert.deepEqual(collectionsOf(whole.bundle).sort(), ['payroll', 'people']);
      assert.deepEqual(whole.bundle.withheldCollections, []);
      assert.equal(whole.summary.records, whole.bundle.records!.length);
    });

    test('a policy that names a record keeps it and its salts out of the export, which still verifies', async () => {
      const turing = await api.call('POST', '/v1/collections/people/records', tenant.key, {
        name: 'Turing',
      });
      const url = `/v1/collections/people/records/${turing.body.id}`;
      await api.call('PUT', url, tenant.key, { name: 'Turing, A.' });
      await api.call('POST', '/v1/collections/people/records', tenant.key, { name: 'Babbage' });
      const admin = await keyWith(api, tenant.id, ['admin']);
      const resource = `collections/people/records/${turing.body.id}`;
      await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"admin", action == Palisade::Action::"records:read", resource == Palisade::Record::"${turing.body.id}");`,
      });
      assert.equal((await api.call('GET', url, admin)).status, 403);

      const partial = await exported(admin);
      assert.ok(!partial.text.includes('Turing'), 'the export bypassed the forbid on the record');
      assert.ok(partial.text.includes('Babbage'));
      assert.deepEqual(partial.bundle.withheldRecords, [resource]);
      assert.deepEqual(partial.bundle.withheldCollections, []);
      const salts = partial.bundle.entries
        .filter((e) => e.entry.includes(`"resource":"${resource}"`))
        .map((e) => e.salt);
      assert.equal(salts.length, 2);
      assert.deepEqual(salts, [null, null], 'a salt of the record opens its commitment');
      assert.deepEqual(partial.summary.withheldRecords, [resource]);
      assert.equal(partial.summary.records, partial.bundle.records!.length);
      await assert.rejects(
        verifyBundle(
          nodeHasher,
          { ...partial.bundle, withheldRecords: undefined },
          partial.trusted,
        ),
        (e) => isLedgerError(e, 'LEDGER_TAMPERED') && /missing from the store/.test(e.message),
        'a verifier that does not know withheldRecords fails the bundle',
      );
      await api.call('DELETE', '/v1/policies', tenant.key);

      const whole = await exported(admin);
      assert.ok(whole.text.includes('Turing, A.'));
      assert.deepEqual(whole.bundle.withheldRecords, []);
    });

    test("device policies see the device's name, type and labels", async () => {
      const vault = await api.call('POST', '/v1/devices', tenant.key, {
        name: 'vault-door',
        type: 'lock',
        labels: ['locked'],
      });
      const lobby = await api.call('POST', '/v1/devices', tenant.key, {
        name: 'lobby-door',
        type: 'lock',
      });
      await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal, action == Palisade::Action::"rpc:send", resource)
when { resource has labels && resource.labels.contains("locked") };`,
      });
      const rpc = (id: string) =>
        api.call('POST', `/v1/devices/${id}/rpc`, tenant.key, { method: 'open', params: {} });
      const refused = await rpc(vault.body.id);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.code, 'PALISADE_FORBIDDEN');
      assert.notEqual((await rpc(lobby.body.id)).status, 403);
      assert.equal((await api.call('GET', `/v1/devices/${vault.body.id}`, tenant.key)).status, 200);
      await api.call('PATCH', `/v1/devices/${vault.body.id}`, tenant.key, { labels: [] });
      assert.notEqual(
        (await rpc(vault.body.id)).status,
        403,
        'the labels are read as they are now',
      );
      await api.call('DELETE', '/v1/policies', tenant.key);
    });

    test('a policy names rpc:read: the answers of a locked device stay hidden, sending is not', async () => {
      const safe = await api.call('POST', '/v1/devices', tenant.key, {
        name: 'safe-lock',
        labels: ['locked'],
      });
      const sent = await api.call('POST', `/v1/devices/${safe.body.id}/rpc`, developer, {
        method: 'code',
        params: { pin: '0451' },
        persistent: true,
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      const url = `/v1/devices/${safe.body.id}/rpc/${sent.body.id}`;
      assert.equal((await api.call('GET', url, developer)).status, 200);
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal, action == Palisade::Action::"rpc:read", resource)
when { resource has labels && resource.labels.contains("locked") };`,
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const refused = await api.call('GET', url, developer);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.code, 'PALISADE_FORBIDDEN');
      assert.match(refused.body.detail, /policies do not allow rpc:read/);
      assert.ok(!JSON.stringify(refused.body).includes('0451'));
      const again = await api.call('POST', `/v1/devices/${safe.body.id}/rpc`, developer, {
        method: 'code',
        persistent: true,
      });
      assert.equal(again.status, 201, 'rpc:send is not forbidden');
      await api.call('DELETE', '/v1/policies', tenant.key);
    });

    test('the telemetry stream of one device is decided on that device, as its telemetry is', async () => {
      const vault = await api.call('POST', '/v1/devices', tenant.key, {
        name: 'vault-sensor',
        labels: ['locked'],
      });
      await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal, action == Palisade::Action::"telemetry:read", resource)
when { resource has labels && resource.labels.contains("locked") };`,
      });
      const latest = await api.call('GET', `/v1/devices/${vault.body.id}/telemetry/latest`, viewer);
      assert.equal(latest.status, 403, JSON.stringify(latest.body));
      if (!api.http.server.listening) await api.http.listen({ host: '127.0.0.1', port: 0 });
      const { port } = api.http.server.address() as { port: number };
      const controller = new AbortController();
      const stream = await fetch(
        `http://127.0.0.1:${port}/v1/telemetry/stream?deviceId=${vault.body.id}`,
        { headers: { authorization: `Bearer ${viewer}` }, signal: controller.signal },
      );
      controller.abort();
      assert.equal(stream.status, 403, 'the stream of the locked device');
      await api.call('DELETE', '/v1/policies', tenant.key);
    });

    test("a tenant policy permitting everything cannot reach another tenant's resources", async () => {
      const other = await api.tenant('cedar-other');
      const permitAll = await api.call('PUT', '/v1/policies', other.key, {
        policies: 'permit (principal, action, resource);',
      });
      assert.equal(permitAll.status, 200);
      const tenantB = (await api.platform.stores.controlPlane.getTenant(other.id))!;
      const principal = {
        context: issueTenantContext(tenantB, { kind: 'api-key', id: 'api-key:b' }),
        permissions: builtInRolePermissions('owner'),
        roles: ['owner'],
        request: { address: '127.0.0.1', at: Date.UTC(2026, 0, 1) },
      };
      const { authorizer } = api.platform.authz;
      const people = { collection: 'people' };
      assert.equal(
        await authorizer.decide(principal, 'records:read', {
          tenantId: other.id,
          attributes: people,
        }),
        true,
      );
      for (const permission of PermissionSet.ALL.list()) {
        const attributes = permission.startsWith('records:') ? people : {};
        assert.equal(
          await authorizer.decide(principal, permission, { tenantId: other.id, attributes }),
          true,
          `${permission} in B`,
        );
        assert.equal(
          await authorizer.decide(principal, permission, { tenantId: tenant.id, attributes }),
          false,
          `${permission} in A`,
        );
      }
      await assert.rejects(
        authorizer.authorize(principal, 'records:read', {
          tenantId: tenant.id,
          attributes: { collection: 'people' },
        }),
        { code: 'PALISADE_FORBIDDEN' },
      );
      const records = await api.call('GET', '/v1/collections/payroll/records', other.key);
      assert.equal(records.status, 404, "B's permit-all finds A's collection nowhere");
    });
  });
}

test('the isolation forbid holds inside Cedar itself, whatever the tenant permits', () => {
  loadPolicySet('isolation-test', ['permit (principal, action, resource);']);
  const request = (resourceTenant: string): CedarRequest => ({
    principal: { type: 'Palisade::ApiKey', id: 'api-key:b' },
    action: 'collections:read',
    resource: { type: 'Palisade::Collection', id: 'people' },
    entities: [
      {
        uid: { type: 'Palisade::ApiKey', id: 'api-key:b' },
        attrs: { tenant: 'tenant-b' },
        parents: [{ type: 'Palisade::Role', id: 'owner' }],
      },
      { uid: { type: 'Palisade::Role', id: 'owner' }, attrs: { tenant: 'tenant-b' }, parents: [] },
      {
        uid: { type: 'Palisade::Collection', id: 'people' },
        attrs: { tenant: resourceTenant, name: 'people' },
        parents: [],
      },
    ],
    context: {
      ip: { __extn: { fn: 'ip', arg: '127.0.0.1' } },
      time: { __extn: { fn: 'datetime', arg: '2026-01-01T00:00:00.000Z' } },
      weekday: 4,
    },
  });
  assert.equal(evaluate('isolation-test', request('tenant-b')), true);
  assert.equal(evaluate('isolation-test', request('tenant-a')), false);
});

test('a policy set written by another process applies once the cache TTL has passed', async () => {
  const api = await TestApi.start('sqlite', { authCacheTtlMs: '0' });
  try {
    const tenant = await api.tenant('elsewhere');
    assert.equal((await api.call('GET', '/v1/collections', tenant.key)).status, 200);
    // Straight into the store, as another instance would: this process is not told.
    const { shard } = (await api.platform.stores.controlPlane.getTenant(tenant.id))!;
    const store = await api.platform.stores.shards.get(shard)!.tenant(tenant.id);
    await store.transaction((tx) =>
      tx.authz.putPolicySet({
        text: 'forbid (principal, action, resource);',
        version: 1,
        updatedAt: new Date().toISOString(),
      }),
    );
    let reply = await api.call('GET', '/v1/collections', tenant.key);
    for (let attempt = 0; attempt < 100 && reply.status !== 403; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      reply = await api.call('GET', '/v1/collections', tenant.key);
    }
    assert.equal(reply.status, 403);
    assert.match(reply.body.detail, /policies do not allow/);
  } finally {
    await api.close();
  }
});
