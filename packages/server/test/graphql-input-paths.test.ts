import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PEOPLE_SCHEMA, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { codesOf, gql } from './support/graphql.ts';

// A service REST and GraphQL share names its own arguments; each transport says where its
// caller sent them: REST the request part, GraphQL the field's argument.
for (const backend of backendNames()) {
  describe(`error details name what the caller sent, over REST and GraphQL, on ${backend}`, () => {
    let api: TestApi;
    let key: string;

    before(async () => {
      api = await TestApi.start(backend);
      ({ key } = await api.tenant('input-paths'));
      await api.call('PUT', '/v1/collections/people', key, { schema: PEOPLE_SCHEMA });
    });
    after(() => api.close());

    test('a ledger range: the end argument, the end query parameter', async () => {
      const reply = await gql(api, key, '{ ledger { entries(start: 5, end: 5) { seq } } }');
      assert.deepEqual(codesOf(reply), ['PALISADE_INVALID_REQUEST']);
      assert.deepEqual(reply.body.errors[0].extensions.details, [
        { path: 'end', message: 'must be above start' },
      ]);
      const rest = await api.call('GET', '/v1/ledger/entries?start=5&end=5', key);
      assert.equal(rest.status, 400);
      assert.deepEqual(rest.body.errors, [
        { path: '/querystring/end', message: 'must be above start' },
      ]);
      const proof = await api.call('GET', '/v1/ledger/proof/consistency?from=0&to=0', key);
      assert.deepEqual(proof.body.errors, [
        { path: '/querystring/from', message: 'must be between 1 and to' },
      ]);
    });

    test('a record filter: the where entry that sent it, the filter query parameter', async () => {
      const reply = await gql(
        api,
        key,
        '{ records(collection: "people", where: [{field: "name", value: "Ada"}, {field: "age", value: "old"}]) { nextCursor } }',
      );
      assert.deepEqual(codesOf(reply), ['PALISADE_INVALID_REQUEST']);
      assert.deepEqual(reply.body.errors[0].extensions.details, [
        { path: 'where[1].value', message: 'must be a integer' },
      ]);
      const nested = await gql(
        api,
        key,
        '{ collection(name: "people") { records(where: [{field: "age", value: "old"}]) { nextCursor } } }',
      );
      assert.deepEqual(nested.body.errors[0].extensions.details, [
        { path: 'where[0].value', message: 'must be a integer' },
      ]);
      const badName = await gql(
        api,
        key,
        '{ records(collection: "people", where: [{field: "name", value: "Ada"}, {field: "a b", value: "x"}]) { nextCursor } }',
      );
      assert.equal(badName.body.errors[0].extensions.details[0].path, 'where[1].field');
      const rest = await api.call(
        'GET',
        '/v1/collections/people/records?filter[name]=Ada&filter[age]=old',
        key,
      );
      assert.equal(rest.status, 400);
      assert.deepEqual(rest.body.errors, [
        { path: '/querystring/filter[age]', message: 'must be a integer' },
      ]);
    });

    test('a collection schema: the schema and encrypted arguments, the body fields', async () => {
      const define = `mutation($schema: JSONObject!, $encrypted: [String!]) {
        defineCollection(name: "refused", schema: $schema, encrypted: $encrypted) { created }
      }`;
      const refusals = [
        {
          body: { schema: { type: 'array' } },
          graphql: [{ path: 'schema/type', message: 'must be "object"' }],
          rest: [{ path: '/body/schema/type', message: 'must be "object"' }],
        },
        {
          body: {
            schema: { type: 'object', properties: { code: { type: 'string', pattern: '(?=a)' } } },
          },
          graphql: ['schema/properties/code/pattern'],
          rest: ['/body/schema/properties/code/pattern'],
        },
        {
          body: { schema: { type: 'object' }, encrypted: ['ssn'] },
          graphql: [{ path: 'encrypted', message: '"ssn" is not in schema.properties' }],
          rest: [{ path: '/body/encrypted', message: '"ssn" is not in schema.properties' }],
        },
      ];
      const paths = (details: { path: string; message: string }[], like: unknown[]) =>
        typeof like[0] === 'string' ? details.map(({ path }) => path) : details;
      for (const { body, graphql, rest } of refusals) {
        const reply = await gql(api, key, define, body);
        assert.deepEqual(codesOf(reply), ['PALISADE_INVALID_SCHEMA'], JSON.stringify(body));
        assert.deepEqual(paths(reply.body.errors[0].extensions.details, graphql), graphql);
        const put = await api.call('PUT', '/v1/collections/refused', key, body);
        assert.equal(put.body.code, 'PALISADE_INVALID_SCHEMA');
        assert.deepEqual(paths(put.body.errors, rest), rest);
      }
    });
  });
}
