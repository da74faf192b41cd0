import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { PEOPLE_SCHEMA, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { codesOf, gql, keyWith } from './support/graphql.ts';

/**
 * A delete by a caller that may not read the record (a policy forbids it, or its roles lack
 * records:read) tells it nothing of the record: unconditional, it is answered alike whether
 * or not the record was there; with If-Match or expectedVersion, whose outcome would show the
 * record's version, it is refused before anything runs, as PUT and PATCH are.
 */

const DELETE_RECORD = `mutation($id: ID!, $v: Int) {
  deleteRecord(collection: "people", id: $id, expectedVersion: $v)
}`;

/** What an answer shows, but the id the caller sent (which it knows). */
function shown(reply: Pick<Reply, 'status' | 'body'> & Partial<Pick<Reply, 'headers'>>) {
  return {
    status: reply.status,
    etag: reply.headers?.etag,
    body: JSON.stringify(reply.body).replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, 'ID'),
  };
}

for (const backend of backendNames()) {
  describe(`deletes of a record its deleter may not read, on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };
    /** Forbidden by a policy to read `hidden` records; with no records:read at all. */
    let developer: string;
    let writer: string;
    let hidden: string[] = [];

    const made = async (name: string) =>
      (await api.call('POST', '/v1/collections/people/records', tenant.key, { name })).body
        .id as string;
    const url = (id: string) => `/v1/collections/people/records/${id}`;
    const ledgerSize = async () =>
      (await api.call('GET', '/v1/ledger/entries?start=0&end=1000', tenant.key)).body.entries
        .length;

    before(async () => {
      api = await TestApi.start(backend);
      tenant = await api.tenant('deletes');
      await api.call('PUT', '/v1/collections/people', tenant.key, { schema: PEOPLE_SCHEMA });
      hidden = [await made('A'), await made('B'), await made('C'), await made('D')];
      const gone = await made('Gone');
      assert.equal((await api.call('DELETE', url(gone), tenant.key)).status, 204);
      hidden.push(gone, randomUUID());
      const set = hidden.map((id) => `Palisade::Record::"${id}"`).join(', ');
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"developer", action == Palisade::Action::"records:read", resource)
when { resource in [${set}] };`,
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      developer = await keyWith(api, tenant.id, ['developer']);
      const role = await api.call('PUT', '/v1/roles/writer', tenant.key, {
        permissions: ['records:write'],
      });
      assert.equal(role.status, 201, JSON.stringify(role.body));
      writer = await keyWith(api, tenant.id, ['writer']);
    });
    after(() => api.close());

    test('REST: If-Match is refused alike for an existing record, a deleted one and none', async () => {
      const [existing, , , , gone, never] = hidden as [string, ...string[]];
      const size = await ledgerSize();
      for (const key of [developer, writer]) {
        for (const ifMatch of ['"1"', '"7"', '*', 'W/"1"']) {
          const answers = [];
          for (const id of [existing, gone!, never!]) {
            const reply = await api.call('DELETE', url(id), key, undefined, {
              'if-match': ifMatch,
            });
            assert.equal(reply.status, 403, `${ifMatch}: ${JSON.stringify(reply.body)}`);
            assert.match(reply.body.detail, /records:read/);
            answers.push(shown(reply));
          }
          assert.deepEqual(answers[1], answers[0], `If-Match ${ifMatch}: deleted vs existing`);
          assert.deepEqual(answers[2], answers[0], `If-Match ${ifMatch}: none vs existing`);
        }
      }
      assert.equal((await api.call('GET', url(existing), tenant.key)).status, 200, 'not deleted');
      assert.equal(await ledgerSize(), size, 'no ledger entry');
    });

    test('REST: an unconditional delete answers 204 whether or not the record was there', async () => {
      const [, b, c, , gone, never] = hidden as [string, ...string[]];
      const answers = [];
      for (const [key, id] of [
        [developer, b!],
        [writer, c!],
        [developer, gone!],
        [writer, never!],
        [writer, randomUUID()],
      ] as const)
        answers.push(shown(await api.call('DELETE', url(id), key)));
      for (const answer of answers) assert.deepEqual(answer, answers[0]);
      assert.equal(answers[0]!.status, 204);
      assert.equal((await api.call('GET', url(b!), tenant.key)).status, 404, 'deleted');
      assert.equal((await api.call('GET', url(c!), tenant.key)).status, 404, 'deleted');
      // A caller that may read it is still told it was not there, or has changed.
      const reader = await api.call('DELETE', url(never!), tenant.key);
      assert.equal(reader.status, 404);
      assert.equal(reader.body.code, 'PALISADE_RECORD_NOT_FOUND');
      const open = await made('Open');
      const stale = await api.call('DELETE', url(open), developer, undefined, {
        'if-match': '"2"',
      });
      assert.equal(stale.status, 412, JSON.stringify(stale.body));
      assert.equal(
        (await api.call('DELETE', url(open), developer, undefined, { 'if-match': '"1"' })).status,
        204,
      );
    });

    test('GraphQL: expectedVersion is refused before anything runs; without it, the id answers', async () => {
      const [a, , , d, gone, never] = hidden as [string, ...string[]];
      const size = await ledgerSize();
      for (const key of [developer, writer]) {
        const answers = [];
        for (const id of [a, gone!, never!]) {
          for (const v of [1, 7]) {
            const reply = await gql(api, key, DELETE_RECORD, { id, v });
            assert.deepEqual(codesOf(reply), ['PALISADE_FORBIDDEN'], JSON.stringify(reply.body));
            assert.match(JSON.stringify(reply.body), /records:read/);
            assert.equal(reply.body.data, undefined, 'nothing ran');
            answers.push(shown(reply));
          }
        }
        for (const answer of answers) assert.deepEqual(answer, answers[0]);
      }
      assert.equal(await ledgerSize(), size, 'no ledger entry');
      const answers = [];
      for (const [key, id] of [
        [developer, a],
        [writer, d!],
        [developer, gone!],
        [writer, never!],
      ] as const) {
        const reply = await gql(api, key, DELETE_RECORD, { id });
        assert.deepEqual(codesOf(reply), [], JSON.stringify(reply.body));
        assert.equal(reply.body.data.deleteRecord, id);
        answers.push(shown(reply));
      }
      for (const answer of answers) assert.deepEqual(answer, answers[0]);
      assert.equal((await api.call('GET', url(a), tenant.key)).status, 404, 'deleted');
      assert.equal((await api.call('GET', url(d!), tenant.key)).status, 404, 'deleted');
      const reader = await gql(api, tenant.key, DELETE_RECORD, { id: never });
      assert.deepEqual(codesOf(reader), ['PALISADE_RECORD_NOT_FOUND']);
    });
  });
}
