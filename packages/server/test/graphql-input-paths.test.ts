import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestApi } from './support/api.ts';
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
  });
}
