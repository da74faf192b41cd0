import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PEOPLE_SCHEMA, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { codesOf, gql, keyWith } from './support/graphql.ts';

/**
 * Changing a collection's encrypted fields is refused while it has records (409
 * PALISADE_COLLECTION_NOT_EMPTY): that answer shows records exist. So only a caller that may
 * read every record of the collection is given it; any other is refused alike, whether the
 * collection is empty or holds records it may not read, before anything is written.
 */

const DEFINE = `mutation($name: CollectionName!, $schema: JSONObject!, $encrypted: [String!]) {
  defineCollection(name: $name, schema: $schema, encrypted: $encrypted) { created }
}`;

for (const backend of backendNames()) {
  describe(`changing the encrypted fields of a collection with records the caller may not read, on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };
    /** Forbidden by a policy to read the one record of `hiding`; no records:read at all. */
    let developer: string;
    let definer: string;

    const define = (key: string, name: string, encrypted: string[]) =>
      api.call('PUT', `/v1/collections/${name}`, key, { schema: PEOPLE_SCHEMA, encrypted });
    const shown = (reply: Pick<Reply, 'status' | 'body'>) => ({
      status: reply.status,
      body: JSON.stringify(reply.body).replaceAll(/hiding|empty/g, 'NAME'),
    });

    before(async () => {
      api = await TestApi.start(backend);
      tenant = await api.tenant('encryption');
      for (const name of ['hiding', 'empty'])
        assert.equal((await define(tenant.key, name, [])).status, 201);
      const hidden = await api.call('POST', '/v1/collections/hiding/records', tenant.key, {
        name: 'Hidden',
        email: 'hidden@x.org',
      });
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"developer", action == Palisade::Action::"records:read", resource == Palisade::Record::"${hidden.body.id}");`,
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      developer = await keyWith(api, tenant.id, ['developer']);
      const role = await api.call('PUT', '/v1/roles/definer', tenant.key, {
        permissions: ['collections:read', 'collections:write'],
      });
      assert.equal(role.status, 201, JSON.stringify(role.body));
      definer = await keyWith(api, tenant.id, ['definer']);
    });
    after(() => api.close());

    test('REST: refused alike for an empty collection and one with a hidden record', async () => {
      for (const key of [developer, definer]) {
        const hiding = await define(key, 'hiding', ['email']);
        const empty = await define(key, 'empty', ['email']);
        assert.equal(hiding.status, 403, JSON.stringify(hiding.body));
        assert.match(hiding.body.detail, /records:read/);
        assert.deepEqual(shown(empty), shown(hiding));
      }
      for (const name of ['hiding', 'empty']) {
        const now = await api.call('GET', `/v1/collections/${name}`, tenant.key);
        assert.deepEqual(now.body.encrypted, [], `${name} is unchanged`);
        assert.equal(now.body.version, 1);
      }
      // Redefining it otherwise shows nothing of its records: that stays allowed.
      assert.equal((await define(developer, 'hiding', [])).status, 200);
      // A caller that may read every record is told why, and may change an empty one.
      const owner = await define(tenant.key, 'hiding', ['email']);
      assert.equal(owner.body.code, 'PALISADE_COLLECTION_NOT_EMPTY');
      assert.equal((await define(tenant.key, 'empty', ['email'])).status, 200);
      assert.equal((await define(tenant.key, 'empty', [])).status, 200);
    });

    test('GraphQL: defineCollection is refused alike', async () => {
      for (const key of [developer, definer]) {
        const answers = [];
        for (const name of ['hiding', 'empty']) {
          const reply = await gql(api, key, DEFINE, {
            name,
            schema: PEOPLE_SCHEMA,
            encrypted: ['email'],
          });
          assert.deepEqual(codesOf(reply), ['PALISADE_FORBIDDEN'], JSON.stringify(reply.body));
          assert.match(JSON.stringify(reply.body), /records:read/);
          answers.push(shown(reply));
        }
        assert.deepEqual(answers[1], answers[0]);
      }
      const owner = await gql(api, tenant.key, DEFINE, {
        name: 'hiding',
        schema: PEOPLE_SCHEMA,
        encrypted: ['email'],
      });
      assert.deepEqual(codesOf(owner), ['PALISADE_COLLECTION_NOT_EMPTY']);
    });
  });
}
