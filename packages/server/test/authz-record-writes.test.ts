import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PEOPLE_SCHEMA, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { codesOf, gql, keyWith } from './support/graphql.ts';

/**
 * A write that answers with the record (PUT, PATCH, replaceRecord, patchRecord) takes
 * records:read on it: a caller may write a record a policy forbids it to read, but not through
 * a write whose answer would show it. The refusal comes before anything is written.
 */

for (const backend of backendNames()) {
  describe(`writes of a record its writer may not read, on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };
    let developer: string;
    /** The record the developer may not read, and one it may. */
    let hidden: string;
    let open: string;

    /** What a refused write must leave as it was: the record and the tenant's ledger. */
    const state = async (id: string) => ({
      record: (await api.call('GET', `/v1/collections/people/records/${id}`, tenant.key)).body,
      ledger: (await api.call('GET', '/v1/ledger/entries?start=0&end=1000', tenant.key)).body,
    });

    const refused = (reply: Pick<Reply, 'status' | 'body'>, what: string) => {
      assert.equal(reply.status, 403, `${what}: ${JSON.stringify(reply.body)}`);
      assert.match(JSON.stringify(reply.body), /records:read/, what);
      assert.ok(!JSON.stringify(reply.body).includes('secret@x.org'), `${what} shows the record`);
    };

    before(async () => {
      api = await TestApi.start(backend);
      tenant = await api.tenant('writes');
      developer = await keyWith(api, tenant.id, ['developer']);
      await api.call('PUT', '/v1/collections/people', tenant.key, {
        schema: PEOPLE_SCHEMA,
        encrypted: ['email'],
      });
      const made = async (name: string, email: string) =>
        (await api.call('POST', '/v1/collections/people/records', tenant.key, { name, email })).body
          .id;
      hidden = await made('Hidden', 'secret@x.org');
      open = await made('Open', 'open@x.org');
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"developer", action == Palisade::Action::"records:read", resource == Palisade::Record::"${hidden}");`,
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
    });
    after(() => api.close());

    test('GraphQL: patchRecord and replaceRecord of the record are refused before anything runs', async () => {
      const before = await state(hidden);
      const PATCH = `mutation($id: ID!) {
        patchRecord(collection: "people", id: $id, patch: {}) { version data proof { state } }
      }`;
      const REPLACE = `mutation($id: ID!) {
        replaceRecord(collection: "people", id: $id, data: {name: "Mine"}) { version createdAt proof { state entry } }
      }`;
      for (const [what, query] of [
        ['patchRecord', PATCH],
        ['replaceRecord', REPLACE],
      ] as const) {
        const reply = await gql(api, developer, query, { id: hidden });
        refused(reply, what);
        assert.deepEqual(codesOf(reply), ['PALISADE_FORBIDDEN'], what);
        assert.equal(reply.body.data, undefined, `${what}: nothing ran`);
        assert.deepEqual(
          reply.body.errors[0].extensions.details.map((d: { path: string }) => d.path),
          [`Mutation.${what}`],
        );
      }
      // A refused field refuses the whole operation: the allowed write beside it does not run.
      const both = await gql(
        api,
        developer,
        `mutation($hidden: ID!, $open: ID!) {
          a: patchRecord(collection: "people", id: $open, patch: {name: "Both"}) { version }
          b: patchRecord(collection: "people", id: $hidden, patch: {}) { version }
        }`,
        { hidden, open },
      );
      refused(both, 'two patches');
      assert.deepEqual(await state(hidden), before, 'the record and the ledger are unchanged');

      const patched = await gql(api, developer, PATCH, { id: open });
      assert.deepEqual(codesOf(patched), [], JSON.stringify(patched.body));
      assert.deepEqual(patched.body.data.patchRecord.data, { name: 'Open', email: 'open@x.org' });
    });

    test('REST: PATCH and PUT of the record are refused and change nothing; DELETE and writes of another work', async () => {
      const url = `/v1/collections/people/records/${hidden}`;
      const before = await state(hidden);
      const patch = await api.call('PATCH', url, developer, {});
      refused(patch, 'PATCH {}');
      assert.equal(patch.body.code, 'PALISADE_FORBIDDEN');
      assert.equal(patch.headers.etag, undefined);
      refused(
        await api.call('PATCH', url, developer, { name: 'X' }, { 'if-match': '"1"' }),
        'PATCH',
      );
      refused(await api.call('PUT', url, developer, { name: 'Mine' }), 'PUT');
      assert.deepEqual(await state(hidden), before, 'the record and the ledger are unchanged');

      const other = `/v1/collections/people/records/${open}`;
      const patched = await api.call('PATCH', other, developer, { name: 'Opened' });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.deepEqual(patched.body.data, { name: 'Opened', email: 'open@x.org' });
      assert.equal(patched.headers.etag, `"${patched.body.version}"`);
      const replaced = await api.call('PUT', other, developer, { name: 'Open' });
      assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
      assert.equal(replaced.body.version, patched.body.version + 1);

      // DELETE answers nothing of the record: the developer may delete the one it may not read.
      assert.equal((await api.call('DELETE', url, developer)).status, 204);
      assert.equal((await api.call('GET', url, tenant.key)).status, 404);
    });

    test('a role with records:write but not records:read may create and delete, not patch or put', async () => {
      const put = await api.call('PUT', '/v1/roles/writer', tenant.key, {
        permissions: ['records:write'],
      });
      assert.equal(put.status, 201, JSON.stringify(put.body));
      const writer = await keyWith(api, tenant.id, ['writer']);
      const made = await api.call('POST', '/v1/collections/people/records', writer, {
        name: 'W',
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const url = `/v1/collections/people/records/${made.body.id}`;
      const before = await state(made.body.id);
      for (const method of ['PATCH', 'PUT'] as const) {
        const reply = await api.call(method, url, writer, { name: 'W2' });
        assert.equal(reply.status, 403, `${method}: ${JSON.stringify(reply.body)}`);
        assert.match(reply.body.detail, /needs the permission records:read/, method);
      }
      assert.deepEqual(await state(made.body.id), before);
      assert.equal((await api.call('DELETE', url, writer)).status, 204);
    });
  });
}
