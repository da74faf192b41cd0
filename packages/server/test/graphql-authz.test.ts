import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildSchema } from 'graphql';
import { isPermission, type Permission } from '../src/authz/index.ts';
import { PERMISSIONS } from '../src/authz/permissions.ts';
import {
  CLIENT_FIELD_RULES,
  checkFieldRules,
  FIELD_RULES,
  joinRules,
  schemaFields,
  USER_FIELD_RULES,
} from '../src/graphql/index.ts';
import { CLIENT_TYPE_DEFS, TYPE_DEFS, USER_TYPE_DEFS } from '../src/graphql/schema.ts';
import { PEOPLE_SCHEMA, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { codesOf, gql, identities, keyWith } from './support/graphql.ts';
import { FIELD_OPERATIONS } from './support/graphql-fields.ts';

const SCHEMA = [TYPE_DEFS, USER_TYPE_DEFS, CLIENT_TYPE_DEFS].join('\n');
const FIELDS = schemaFields(buildSchema(SCHEMA));
const RULES = joinRules([FIELD_RULES, USER_FIELD_RULES, CLIENT_FIELD_RULES]);

/** The permissions whose absence must refuse the field. */
function needed(field: string): readonly Permission[] {
  const [type, name] = field.split('.') as [string, string];
  const rule = RULES[type]![name]!;
  return 'property' in rule ? rule.property : [rule.permission];
}

describe('GraphQL field rules', () => {
  test('every field of the schema declares a permission, and every rule a field', () => {
    assert.ok(FIELDS.length > 40, 'the enumeration finds the schema');
    for (const field of FIELDS) {
      const permissions = needed(field);
      assert.ok(permissions.length > 0, `${field} names no permission`);
      assert.ok(permissions.every(isPermission), `${field}: ${permissions}`);
    }
    assert.doesNotThrow(() => checkFieldRules(buildSchema(SCHEMA), RULES));
    assert.doesNotThrow(
      () => checkFieldRules(buildSchema(TYPE_DEFS), FIELD_RULES),
      'users and clients left out',
    );
  });

  test('a field added without a rule stops the schema from being served', () => {
    const extended = buildSchema(`${SCHEMA}\nextend type Record { owner: String }`);
    assert.throws(() => checkFieldRules(extended, RULES), /no rule for \[Record\.owner\]/);
  });

  test('every field has an operation in the authorization and isolation tables', () => {
    assert.deepEqual(
      FIELDS.filter((f) => !(f in FIELD_OPERATIONS)),
      [],
      'fields without a case',
    );
    assert.deepEqual(
      Object.keys(FIELD_OPERATIONS).filter((f) => !FIELDS.includes(f)),
      [],
      'cases for fields that no longer exist',
    );
  });
});

for (const backend of backendNames()) {
  describe(`GraphQL authorization on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };
    let userId: string;
    let clientId: string;

    const freshRecord = async (): Promise<string> => {
      const made = await api.call('POST', '/v1/collections/people/records', tenant.key, {
        name: 'Ada',
      });
      return made.body.id;
    };

    /** A key whose one custom role holds every permission but `withheld`. */
    const keyWithout = async (withheld: readonly Permission[]): Promise<string> => {
      const role = `without-${withheld.join('-').replaceAll(':', '-')}`;
      const put = await api.call('PUT', `/v1/roles/${role}`, tenant.key, {
        permissions: PERMISSIONS.filter((p) => !withheld.includes(p)),
      });
      assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
      return keyWith(api, tenant.id, [role]);
    };

    const state = async () => ({
      records: (await api.call('GET', '/v1/collections/people/records', tenant.key)).body,
      collections: (await api.call('GET', '/v1/collections', tenant.key)).body,
      ledger: (await api.call('GET', '/v1/ledger/entries?start=0&end=1000', tenant.key)).body,
    });

    before(async () => {
      api = await TestApi.start(backend);
      tenant = await api.tenant('authz');
      await api.call('PUT', '/v1/collections/people', tenant.key, { schema: PEOPLE_SCHEMA });
      ({ userId, clientId } = await identities(api, tenant.key));
    });
    after(() => api.close());

    test('a credential holding the permissions runs every field', async () => {
      for (const [field, operation] of Object.entries(FIELD_OPERATIONS)) {
        const { query, variables } = operation({ recordId: await freshRecord(), userId, clientId });
        const reply = await gql(api, tenant.key, query, variables);
        assert.equal(reply.status, 200, `${field}: ${JSON.stringify(reply.body)}`);
        assert.deepEqual(codesOf(reply), [], `${field}: ${JSON.stringify(reply.body)}`);
      }
    });

    test('each field is refused, before anything runs, to a credential without its permission', async () => {
      const recordId = await freshRecord();
      const keys = new Map<string, string>();
      for (const field of FIELDS) {
        const withheld = needed(field);
        if (!keys.has(withheld.join())) keys.set(withheld.join(), await keyWithout(withheld));
      }
      const before = await state();
      for (const [field, operation] of Object.entries(FIELD_OPERATIONS)) {
        const { query, variables } = operation({ recordId, userId, clientId });
        const reply = await gql(api, keys.get(needed(field).join()), query, variables);
        assert.equal(reply.status, 403, `${field}: ${JSON.stringify(reply.body)}`);
        assert.deepEqual(codesOf(reply), ['PALISADE_FORBIDDEN'], field);
        assert.equal(reply.body.data, undefined, `${field}: nothing ran`);
        const paths = reply.body.errors[0].extensions.details.map((d: { path: string }) => d.path);
        assert.ok(paths.includes(field), `${field} not named in ${paths}`);
      }
      assert.deepEqual(await state(), before, 'refused mutations wrote nothing');
    });

    test('built-in roles: a viewer reads but cannot write or introspect', async () => {
      const viewer = await keyWith(api, tenant.id, ['viewer']);
      const read = await gql(
        api,
        viewer,
        '{ records(collection: "people", limit: 1) { items { id } } }',
      );
      assert.deepEqual(codesOf(read), []);
      const before = await state();
      const write = await gql(
        api,
        viewer,
        'mutation { a: createRecord(collection: "people", data: {name: "V"}) { id } }',
      );
      assert.equal(write.status, 403);
      assert.match(write.body.errors[0].message, /Mutation\.createRecord needs records:write/);
      assert.deepEqual(await state(), before);
      const typename = await gql(api, viewer, '{ __typename }');
      assert.deepEqual(typename.body, { data: { __typename: 'Query' } });
    });

    test('introspection is for admins: owner and admin roles, not developer or viewer', async () => {
      const query = '{ __schema { queryType { name } } }';
      for (const role of ['owner', 'admin']) {
        const reply = await gql(api, await keyWith(api, tenant.id, [role]), query);
        assert.deepEqual(
          reply.body,
          { data: { __schema: { queryType: { name: 'Query' } } } },
          role,
        );
      }
      for (const role of ['developer', 'viewer']) {
        const key = await keyWith(api, tenant.id, [role]);
        for (const q of [query, '{ __type(name: "Record") { name } }']) {
          const reply = await gql(api, key, q);
          assert.equal(reply.status, 403, role);
          assert.match(reply.body.errors[0].message, /needs graphql:introspect/);
        }
      }
    });

    test("Cedar policies decide on the resource a field names, and per parent for a collection's records", async () => {
      await api.call('PUT', '/v1/collections/payroll', tenant.key, { schema: PEOPLE_SCHEMA });
      const salary = await api.call('POST', '/v1/collections/payroll/records', tenant.key, {
        name: 'Grace',
      });
      const policy = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"developer", action == Palisade::Action::"records:read", resource)
when { resource.collection == "payroll" };`,
      });
      assert.ok(policy.status < 300, JSON.stringify(policy.body));
      const developer = await keyWith(api, tenant.id, ['developer']);
      const direct = await gql(
        api,
        developer,
        'query($id: ID!) { record(collection: "payroll", id: $id) { data } }',
        {
          id: salary.body.id,
        },
      );
      assert.equal(direct.status, 403);
      assert.match(
        direct.body.errors[0].message,
        /Query\.record is refused by the tenant's policies/,
      );
      const nested = await gql(
        api,
        developer,
        '{ collections { name records(limit: 10) { items { data } } } }',
      );
      assert.equal(nested.status, 200);
      const byName = Object.fromEntries(
        nested.body.data.collections.map((c: { name: string; records: unknown }) => [
          c.name,
          c.records,
        ]),
      );
      assert.equal(byName.payroll, null);
      assert.ok((byName.people as { items: unknown[] }).items.length > 0);
      assert.deepEqual(codesOf(nested), ['PALISADE_FORBIDDEN']);
      assert.ok(!JSON.stringify(nested.body).includes('Grace'));
      const people = await gql(
        api,
        developer,
        '{ records(collection: "people", limit: 1) { items { id } } }',
      );
      assert.deepEqual(codesOf(people), []);
      await api.call('DELETE', '/v1/policies', tenant.key);
    });
  });
}
