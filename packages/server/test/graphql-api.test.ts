import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { getIntrospectionQuery } from 'graphql';
import { uuid7 } from '../src/ids/index.ts';
import type { PageQuery } from '../src/store/index.ts';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { codesOf, gql } from './support/graphql.ts';

const CREATE = `mutation($data: JSONObject!) {
  createRecord(collection: "people", data: $data) { id version data }
}`;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

for (const backend of backendNames()) {
  describe(`GraphQL on ${backend}`, () => {
    let api: TestApi;
    let key: string;

    const create = async (data: Record<string, unknown>) => {
      const reply = await gql(api, key, CREATE, { data });
      assert.deepEqual(codesOf(reply), [], JSON.stringify(reply.body));
      return reply.body.data.createRecord as { id: string; version: number };
    };

    before(async () => {
      api = await TestApi.start(backend);
      ({ key } = await api.tenant('graphql'));
      const defined = await gql(
        api,
        key,
        `mutation($schema: JSONObject!) {
          defineCollection(name: "people", schema: $schema, encrypted: ["email"]) {
            created collection { name version encrypted }
          }
        }`,
        { schema: PEOPLE_SCHEMA },
      );
      assert.deepEqual(defined.body.data.defineCollection, {
        created: true,
        collection: { name: 'people', version: 1, encrypted: ['email'] },
      });
    });
    after(() => api.close());

    test('mutations go through the record service: validation, versions, ledger entries as REST', async () => {
      const made = await create({ name: 'Ada', age: 36, email: 'ada@example.org' });
      assert.equal(made.version, 1);
      const rest = await api.call('GET', `/v1/collections/people/records/${made.id}`, key);
      assert.deepEqual(rest.body.data, { name: 'Ada', age: 36, email: 'ada@example.org' });

      const invalid = await gql(api, key, CREATE, { data: { name: 'Bad', age: -1 } });
      assert.equal(invalid.status, 200);
      assert.deepEqual(codesOf(invalid), ['PALISADE_RECORD_INVALID']);
      assert.deepEqual(invalid.body.errors[0].path, ['createRecord']);
      assert.equal(invalid.body.data, null);

      // A string literal of the document itself can spell what no store keeps: refused as REST does.
      for (const [literal, refusal] of [
        ['{name: "a\\u0000b"}', /JSONObject at \/name must not contain U\+0000/],
        ['{name: "x", n: 1e400}', /JSONObject at \/n must be a finite number/],
        ['{name: "a\\ud800"}', /Invalid Unicode escape sequence/],
        [
          '{name: "x", age: 9007199254740993}',
          /integer 9007199254740993 must be one JSON can carry/,
        ],
      ] as const) {
        const refused = await gql(
          api,
          key,
          `mutation { createRecord(collection: "people", data: ${literal}) { id } }`,
        );
        assert.equal(refused.body.data, undefined, literal);
        assert.match(JSON.stringify(refused.body.errors), refusal);
      }
      const deepSchema = await gql(
        api,
        key,
        `mutation { defineCollection(name: "deep", schema: {type: "object", default: ${'['.repeat(40)}${']'.repeat(40)}}) { created } }`,
      );
      assert.match(JSON.stringify(deepSchema.body.errors), /must not nest deeper than 32 levels/);

      const replace = `mutation($id: ID!, $v: Int) {
        replaceRecord(collection: "people", id: $id, data: {name: "Ada L", age: 37}, expectedVersion: $v) { version data }
      }`;
      const replaced = await gql(api, key, replace, { id: made.id, v: 1 });
      assert.deepEqual(replaced.body.data.replaceRecord, {
        version: 2,
        data: { name: 'Ada L', age: 37 },
      });
      const stale = await gql(api, key, replace, { id: made.id, v: 1 });
      assert.deepEqual(codesOf(stale), ['PALISADE_PRECONDITION_FAILED']);

      const patched = await gql(
        api,
        key,
        'mutation($id: ID!) { patchRecord(collection: "people", id: $id, patch: {age: null, active: true}) { version data } }',
        { id: made.id },
      );
      assert.deepEqual(patched.body.data.patchRecord, {
        version: 3,
        data: { name: 'Ada L', active: true },
      });

      const entries = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key);
      const mine = entries.body.entries
        .map((e: { entry: { action: string; resource: string } }) => e.entry)
        .filter(
          (e: { resource: string }) => e.resource === `collections/people/records/${made.id}`,
        );
      assert.deepEqual(
        mine.map((e: { action: string }) => e.action),
        ['record.create', 'record.update', 'record.update'],
      );
      assert.ok(
        !JSON.stringify(entries.body).includes('ada@example.org'),
        'encrypted in the ledger',
      );

      const viaGraphql = await gql(
        api,
        key,
        '{ ledger { entries(start: 0, end: 1000) { seq batch leafHash entry } } }',
      );
      assert.deepEqual(viaGraphql.body.data.ledger.entries, entries.body.entries);

      const deleted = await gql(
        api,
        key,
        'mutation($id: ID!) { deleteRecord(collection: "people", id: $id, expectedVersion: 3) }',
        { id: made.id },
      );
      assert.deepEqual(deleted.body.data, { deleteRecord: made.id });
      const gone = await gql(
        api,
        key,
        'query($id: ID!) { record(collection: "people", id: $id) { id } }',
        {
          id: made.id,
        },
      );
      assert.deepEqual(gone.body.data, { record: null });
      assert.deepEqual(codesOf(gone), ['PALISADE_RECORD_NOT_FOUND']);
      assert.equal(
        (await api.call('GET', `/v1/collections/people/records/${made.id}`, key)).status,
        404,
      );
    });

    test('queries page and filter as REST does, encrypted fields included', async () => {
      const ids = [];
      for (const name of ['Grace', 'Hedy', 'Grace'])
        ids.push((await create({ name, email: `${name}@x.org` })).id);
      const query = `query($after: String) {
        records(collection: "people", limit: 2, after: $after, where: [{field: "name", value: "Grace"}]) {
          items { id data } nextCursor
        }
      }`;
      const first = await gql(api, key, query);
      const page = first.body.data.records;
      assert.equal(page.items.length, 2);
      const rest = await api.call(
        'GET',
        '/v1/collections/people/records?limit=2&filter[name]=Grace',
        key,
      );
      assert.deepEqual(page, {
        items: rest.body.items.map(({ id, data }: { id: string; data: unknown }) => ({ id, data })),
        nextCursor: rest.body.nextCursor,
      });
      const byEmail = await gql(
        api,
        key,
        '{ records(collection: "people", limit: 10, where: [{field: "email", value: "\\"Hedy@x.org\\""}]) { items { id } } }',
      );
      assert.deepEqual(codesOf(byEmail), []);
      const hedy = await gql(
        api,
        key,
        '{ records(collection: "people", limit: 10, where: [{field: "email", value: "Hedy@x.org"}]) { items { id } } }',
      );
      assert.deepEqual(hedy.body.data.records.items, [{ id: ids[1] }]);
      const nested = await gql(
        api,
        key,
        '{ collections { name records(limit: 1) { items { id } } } }',
      );
      assert.equal(nested.body.data.collections[0].records.items.length, 1);
      const badLimit = await gql(
        api,
        key,
        '{ records(collection: "people", limit: 0) { nextCursor } }',
      );
      assert.deepEqual(codesOf(badLimit), ['PALISADE_INVALID_REQUEST']);
      const badField = await gql(
        api,
        key,
        '{ records(collection: "people", where: [{field: "a b", value: "x"}]) { nextCursor } }',
      );
      assert.deepEqual(codesOf(badField), ['PALISADE_INVALID_REQUEST']);
    });

    test("a record's proof and the checkpoint match the REST ledger routes", async () => {
      const { id } = await create({ name: 'Katherine' });
      const reply = await gql(
        api,
        key,
        `query($id: ID!) {
          record(collection: "people", id: $id) { proof { entry salt state } }
          ledger { recordProof(collection: "people", id: $id) { entry batch entryProof salt state } checkpoint { size } }
        }`,
        { id },
      );
      assert.deepEqual(codesOf(reply), []);
      const rest = await api.call('GET', `/v1/collections/people/records/${id}/proof`, key);
      const { proof } = reply.body.data.record;
      assert.deepEqual(proof, {
        entry: rest.body.entry,
        salt: rest.body.salt,
        state: rest.body.state,
      });
      const ledgerProof = reply.body.data.ledger.recordProof;
      assert.deepEqual(ledgerProof.batch, rest.body.batch);
      assert.deepEqual(ledgerProof.entryProof, rest.body.entryProof);
      assert.ok(reply.body.data.ledger.checkpoint.size >= 1);
    });

    test('malformed and oversized requests are refused cleanly, and the server stays up', async () => {
      const invalid = [
        '{ collections { ',
        '{ collections { nope } }',
        '{"kind": "Document", "definitions": []}',
        '{ collection(name: "Not A Name") { name } }',
        'mutation { createRecord(collection: "people", data: [1]) { id } }',
        'mutation { createRecord(collection: "people", data: {__proto__: {admin: true}}) { id } }',
        'query A { collections { name } } query B { collections { name } }',
        'subscription { collections { name } }',
        `{ ${'collections { name } '.repeat(2)}${'{'.repeat(3000)}`,
      ];
      for (const query of invalid) {
        const reply = await gql(api, key, query);
        assert.equal(reply.status, 400, `${query.slice(0, 60)}: ${JSON.stringify(reply.body)}`);
        assert.deepEqual(codesOf(reply), ['PALISADE_GRAPHQL_INVALID'], query.slice(0, 60));
        assert.equal(reply.body.data, undefined);
      }
      const tokens = await gql(api, key, `{ ${'a: __typename '.repeat(700)}}`);
      assert.equal(tokens.status, 400);
      assert.match(tokens.body.errors[0].message, /more that 2000 tokens/);
      const located = await gql(api, key, '{ collections { nope } }');
      assert.deepEqual(located.body.errors[0].locations, [{ line: 1, column: 17 }]);
      const badVariable = await gql(api, key, CREATE, { data: 'not an object' });
      assert.deepEqual(codesOf(badVariable), ['PALISADE_GRAPHQL_INVALID']);

      const problems: [unknown, number, string][] = [
        [{ query: 'x'.repeat(16_385) }, 400, 'PALISADE_INVALID_REQUEST'],
        [{ query: '{ collections { name } }', batch: true }, 400, 'PALISADE_INVALID_REQUEST'],
        [[{ query: '{ collections { name } }' }], 400, 'PALISADE_INVALID_REQUEST'],
        ['{"query": ', 400, 'PALISADE_MALFORMED_JSON'],
        [{}, 400, 'PALISADE_INVALID_REQUEST'],
      ];
      for (const [body, status, code] of problems) {
        const reply = await api.call('POST', '/v1/graphql', key, body);
        assert.equal(reply.status, status, JSON.stringify(reply.body));
        assert.equal(reply.body.code ?? reply.body.errors?.[0]?.extensions.code, code);
      }
      const get = await api.call('GET', '/v1/graphql?query={collections{name}}', key);
      assert.equal(get.status, 404);
      const ok = await gql(api, key, '{ collections { name } }');
      assert.deepEqual(ok.body.data.collections, [{ name: 'people' }]);
    });

    test('the standard introspection query answers an admin within the default limits', async () => {
      const reply = await gql(api, key, getIntrospectionQuery());
      assert.deepEqual(codesOf(reply), [], JSON.stringify(reply.body).slice(0, 500));
      assert.equal(reply.body.data.__schema.queryType.name, 'Query');
    });

    test('only tenant credentials reach the endpoint', async () => {
      const none = await gql(api, undefined, '{ collections { name } }');
      assert.equal(none.status, 401);
      assert.equal(none.body.code, 'PALISADE_UNAUTHENTICATED');
      const admin = await gql(api, ADMIN_TOKEN, '{ collections { name } }');
      assert.equal(admin.status, 403);
      assert.equal(admin.body.code, 'PALISADE_FORBIDDEN');
    });

    test('persisted queries: hash first, then query and hash, then the hash alone', async () => {
      const query = '{ collections { name version } }';
      const hash = sha256(query);
      const extensions = { persistedQuery: { version: 1, sha256Hash: hash } };
      const unknown = await api.call('POST', '/v1/graphql', key, { extensions });
      assert.equal(unknown.status, 400);
      assert.deepEqual(unknown.body.errors, [
        {
          message: 'PersistedQueryNotFound',
          extensions: { code: 'PALISADE_PERSISTED_QUERY_NOT_FOUND' },
        },
      ]);
      const wrong = await api.call('POST', '/v1/graphql', key, {
        query: '{ collections { name } }',
        extensions,
      });
      assert.deepEqual(codesOf(wrong), ['PALISADE_INVALID_REQUEST']);
      const stillUnknown = await api.call('POST', '/v1/graphql', key, { extensions });
      assert.equal(stillUnknown.status, 400, 'a mismatched query is not kept');
      const sent = await api.call('POST', '/v1/graphql', key, { query, extensions });
      assert.deepEqual(codesOf(sent), []);
      const byHash = await api.call('POST', '/v1/graphql', key, { extensions });
      assert.deepEqual(byHash.body, sent.body);
      const badHash = await api.call('POST', '/v1/graphql', key, {
        extensions: { persistedQuery: { version: 1, sha256Hash: 'ABC' } },
      });
      assert.equal(badHash.body.code, 'PALISADE_INVALID_REQUEST');
    });
  });
}

describe('GraphQL limits', () => {
  let api: TestApi;
  let key: string;
  before(async () => {
    api = await TestApi.start('sqlite', {
      graphqlDepthMax: '3',
      graphqlCostMax: '100',
      graphqlPersistedQueriesMax: '2',
    });
    ({ key } = await api.tenant('limits'));
    await api.call('PUT', '/v1/collections/people', key, { schema: PEOPLE_SCHEMA });
  });
  after(() => api.close());

  const count = async () =>
    (await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key)).body.entries.length;

  test('an operation nested deeper than graphqlDepthMax is refused before it runs', async () => {
    const ok = await gql(
      api,
      key,
      '{ collection(name: "people") { records(limit: 1) { nextCursor } } }',
    );
    assert.deepEqual(codesOf(ok), []);
    const deep = await gql(
      api,
      key,
      '{ collection(name: "people") { records(limit: 1) { items { id } } } }',
    );
    assert.equal(deep.status, 400);
    assert.deepEqual(codesOf(deep), ['PALISADE_GRAPHQL_TOO_DEEP']);
    assert.match(deep.body.errors[0].message, /4 deep, over the limit of 3/);
    const viaFragment = await gql(
      api,
      key,
      'fragment F on RecordPage { items { id } } { collection(name: "people") { records(limit: 1) { ...F } } }',
    );
    assert.deepEqual(codesOf(viaFragment), ['PALISADE_GRAPHQL_TOO_DEEP']);
  });

  test('an operation costing more than graphqlCostMax is refused whole: no mutation runs', async () => {
    const before = await count();
    const aliases = Array.from(
      { length: 101 },
      (_, i) => `r${i}: createRecord(collection: "people", data: {name: "n${i}"}) { id }`,
    );
    const many = await gql(api, key, `mutation { ${aliases.join(' ')} }`);
    assert.equal(many.status, 400);
    assert.deepEqual(codesOf(many), ['PALISADE_GRAPHQL_TOO_COSTLY']);
    assert.match(many.body.errors[0].message, /costs 101, over the limit of 100/);
    assert.equal(await count(), before);
    const deletes = Array.from(
      { length: 101 },
      (_, i) => `d${i}: deleteRecord(collection: "people", id: "${uuid7()}")`,
    );
    const scalarMutations = await gql(api, key, `mutation { ${deletes.join(' ')} }`);
    assert.deepEqual(
      codesOf(scalarMutations),
      ['PALISADE_GRAPHQL_TOO_COSTLY'],
      'a scalar answer does not make a write free',
    );
    const page = await gql(
      api,
      key,
      '{ records(collection: "people", limit: 60) { items { id } } }',
    );
    assert.deepEqual(codesOf(page), ['PALISADE_GRAPHQL_TOO_COSTLY'], '60 × (page + record) = 120');
    const within = await gql(
      api,
      key,
      '{ records(collection: "people", limit: 40) { items { id } } }',
    );
    assert.deepEqual(codesOf(within), []);
  });

  test('a too costly operation is refused before any of its fields is authorized', async () => {
    const authorizer = api.platform.authz.authorizer;
    const decide = authorizer.decide;
    const asked: string[] = [];
    authorizer.decide = (principal, permission, resource) => {
      asked.push(permission);
      return decide.call(authorizer, principal, permission, resource);
    };
    try {
      const aliases = Array.from(
        { length: 101 },
        (_, i) => `r${i}: createRecord(collection: "people", data: {name: "n${i}"}) { id }`,
      );
      const many = await gql(api, key, `mutation { ${aliases.join(' ')} }`);
      assert.deepEqual(codesOf(many), ['PALISADE_GRAPHQL_TOO_COSTLY']);
      assert.deepEqual(
        asked.filter((permission) => permission.startsWith('records:')),
        [],
      );
      const one = await gql(api, key, `mutation { ${aliases[0]} }`);
      assert.deepEqual(codesOf(one), [], JSON.stringify(one.body));
      assert.ok(
        asked.some((permission) => permission.startsWith('records:')),
        'a field within the cost is authorized',
      );
    } finally {
      authorizer.decide = decide;
    }
  });

  test('fragments spread many times are counted each time, but walked once', async () => {
    const levels = 24;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === levels - 1
        ? `fragment F${i} on Query { collections { name } }`
        : `fragment F${i} on Query { ...F${i + 1} a${i}: __typename ...F${i + 1} }`,
    );
    // Walking 2^24 spreads would not answer within the test's timeout.
    const reply = await gql(api, key, `{ ...F0 } ${fragments.join(' ')}`);
    assert.deepEqual(codesOf(reply), ['PALISADE_GRAPHQL_TOO_COSTLY']);
  });

  test('introspection counts in the cost: its lists answer as many items as the schema has', async () => {
    assert.deepEqual(codesOf(await gql(api, key, '{ __schema { types { name } } }')), []);
    const fields = await gql(api, key, '{ __schema { types { fields { name } } } }');
    assert.equal(fields.status, 400);
    assert.deepEqual(codesOf(fields), ['PALISADE_GRAPHQL_TOO_COSTLY']);
    // Aliases and fragments multiply an answer that nests no deeper than graphql-js allows.
    const aliased = (field: string, body: string) =>
      [0, 1, 2].map((i) => `${field[0]}${i}: ${field} { ${body} }`).join(' ');
    const multiplied = await gql(
      api,
      key,
      `{ __schema { ...S } }
      fragment S on __Schema { ${aliased('types', '...T')} }
      fragment T on __Type { ${aliased('fields', '...F')} }
      fragment F on __Field { ${aliased('type', 'ofType { ...U } ...U')} }
      fragment U on __Type { ${aliased('fields', 'name')} }`,
    );
    assert.equal(multiplied.status, 400);
    assert.deepEqual(codesOf(multiplied), ['PALISADE_GRAPHQL_TOO_COSTLY']);
  });

  test('persisted queries are bounded by graphqlPersistedQueriesMax, least recently used first', async () => {
    const persist = (query: string, withQuery: boolean) =>
      api.call('POST', '/v1/graphql', key, {
        ...(withQuery ? { query } : {}),
        extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } },
      });
    const queries = ['{ a: __typename }', '{ b: __typename }', '{ c: __typename }'];
    for (const query of queries) assert.deepEqual(codesOf(await persist(query, true)), []);
    assert.deepEqual(codesOf(await persist(queries[0]!, false)), [
      'PALISADE_PERSISTED_QUERY_NOT_FOUND',
    ]);
    for (const query of queries.slice(1))
      assert.deepEqual(codesOf(await persist(query, false)), []);
  });
});

for (const backend of backendNames()) {
  describe(`GraphQL cost of the unpaged collections, on ${backend}`, () => {
    let api: TestApi;
    let key: string;
    before(async () => {
      api = await TestApi.start(backend, { pageSizeMax: '2', graphqlCostMax: '20' });
      ({ key } = await api.tenant('many-collections'));
      for (const name of ['a', 'b', 'c', 'd', 'e'])
        await api.call('PUT', `/v1/collections/${name}`, key, { schema: PEOPLE_SCHEMA });
    });
    after(() => api.close());

    test('a page without a limit holds what REST holds: 100, or pageSizeMax when that is less', async () => {
      for (const name of ['Ada', 'Grace', 'Hedy'])
        await api.call('POST', '/v1/collections/a/records', key, { name });
      await api.call('POST', '/v1/users', key, { email: 'ada@example.org', name: 'Ada' });
      await api.call('POST', '/v1/users', key, { email: 'grace@example.org', name: 'Grace' });
      await api.call('POST', '/v1/users', key, { email: 'hedy@example.org', name: 'Hedy' });
      const reply = await gql(
        api,
        key,
        `{ records(collection: "a") { items { id } nextCursor }
          collection(name: "a") { records { items { id } nextCursor } }
          users { items { id } nextCursor } }`,
      );
      assert.deepEqual(codesOf(reply), [], JSON.stringify(reply.body));
      const ids = (page: { items: { id: string }[]; nextCursor: string | null }) => ({
        items: page.items.map(({ id }) => ({ id })),
        nextCursor: page.nextCursor,
      });
      const records = ids((await api.call('GET', '/v1/collections/a/records', key)).body);
      assert.equal(records.items.length, 2);
      assert.deepEqual(reply.body.data.records, records);
      assert.deepEqual(reply.body.data.collection.records, records);
      assert.deepEqual(reply.body.data.users, ids((await api.call('GET', '/v1/users', key)).body));
    });

    test('a tenant with more collections than the cost counted is refused, not read past the limit', async () => {
      // Counted as 2 collections × (1 + 2 × (page + record)) = 10: within 20, but 5 pages would run.
      const query = '{ collections { records(limit: 2) { items { id } } } }';
      const reply = await gql(api, key, query);
      assert.deepEqual(codesOf(reply), ['PALISADE_GRAPHQL_TOO_COSTLY'], JSON.stringify(reply.body));
      assert.match(reply.body.errors[0].message, /5 collections/);
      assert.deepEqual(codesOf(await gql(api, key, '{ collection(name: "a") { name } }')), []);
    });

    test('without policies, too many collections are counted, not read', async () => {
      let listed = 0;
      for (const shard of api.platform.stores.shards.values()) {
        const tenant = shard.tenant.bind(shard);
        shard.tenant = async (id) => {
          const store = await tenant(id);
          const { reader } = store;
          const list = reader.listCollections;
          if (!('spied' in list))
            reader.listCollections = Object.assign(
              (page: PageQuery) => {
                listed++;
                return list.call(reader, page);
              },
              { spied: true },
            );
          return store;
        };
      }
      const reply = await gql(api, key, '{ collections { name } }');
      assert.deepEqual(codesOf(reply), ['PALISADE_GRAPHQL_TOO_COSTLY'], JSON.stringify(reply.body));
      assert.match(reply.body.errors[0].message, /5 collections/);
      assert.equal(listed, 0);
    });
  });
}
