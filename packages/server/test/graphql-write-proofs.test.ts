import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fromBase64Url, verifyStateCommitment } from '@palisade/ledger';
import { nodeSha256 } from '@palisade/ledger/node';
import { RecordService } from '../src/records/index.ts';
import { PEOPLE_SCHEMA, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { codesOf, gql, keyWith } from './support/graphql.ts';

/**
 * A mutation's `proof` proves the state that mutation wrote, even when another writer changed
 * or deleted the record between its commit and the proof being read: never the other writer's
 * state, which a caller holding records:write and ledger:read but not records:read may not see.
 * The race is made certain by running the other write right after the mutation's own.
 */

const CREATE = `mutation($data: JSONObject!) {
  createRecord(collection: "people", data: $data) {
    id version data proof { entry salt state }
  }
}`;
const REPLACE = `mutation($id: ID!, $data: JSONObject!) {
  replaceRecord(collection: "people", id: $id, data: $data) {
    id version data proof { entry salt state }
  }
}`;

interface Proven {
  readonly data: Record<string, unknown>;
  readonly proof: {
    readonly entry: { action: string; resource: string; commitment: string };
    readonly salt: string;
    readonly state: unknown;
  } | null;
}

/** The proof is of exactly the state the mutation answered, by `action`. */
function provesAnswer(answer: Proven, action: string): void {
  assert.ok(answer.proof !== null, 'a proof');
  assert.equal(answer.proof.entry.action, action);
  assert.deepEqual(answer.proof.state, answer.data);
  verifyStateCommitment(
    nodeSha256,
    answer.proof.entry.commitment,
    fromBase64Url(answer.proof.salt)!,
    answer.data,
  );
}

for (const backend of backendNames()) {
  describe(`a mutation's proof under a concurrent write, on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };
    /** records:write and ledger:read, without records:read. */
    let auditor: string;
    let developer: string;

    /**
     * Runs `meanwhile` on the record `method` writes first, after its commit, before its answer
     * (writes that `meanwhile` makes itself run as they would).
     */
    async function racing<T>(
      method: 'create' | 'update',
      meanwhile: (id: string) => Promise<unknown>,
      body: () => Promise<T>,
    ): Promise<T> {
      const original = RecordService.prototype[method] as (...a: unknown[]) => Promise<{
        id: string;
      }>;
      let raced = false;
      RecordService.prototype[method] = async function (this: RecordService, ...args: unknown[]) {
        const row = await original.apply(this, args);
        if (raced) return row;
        raced = true;
        await meanwhile(row.id);
        return row;
      } as never;
      try {
        return await body();
      } finally {
        RecordService.prototype[method] = original as never;
      }
    }

    const url = (id: string) => `/v1/collections/people/records/${id}`;

    before(async () => {
      api = await TestApi.start(backend);
      tenant = await api.tenant('proofs');
      await api.call('PUT', '/v1/collections/people', tenant.key, { schema: PEOPLE_SCHEMA });
      const role = await api.call('PUT', '/v1/roles/auditor', tenant.key, {
        permissions: ['records:write', 'ledger:read'],
      });
      assert.equal(role.status, 201, JSON.stringify(role.body));
      auditor = await keyWith(api, tenant.id, ['auditor']);
      developer = await keyWith(api, tenant.id, ['developer']);
    });
    after(() => api.close());

    test('createRecord { proof } proves what it created, not what another writer made of it', async () => {
      const reply = await racing(
        'create',
        async (id) => {
          const patched = await api.call('PATCH', url(id), tenant.key, { name: 'Not yours' });
          assert.equal(patched.status, 200, JSON.stringify(patched.body));
        },
        () => gql(api, auditor, CREATE, { data: { name: 'Mine' } }),
      );
      assert.deepEqual(codesOf(reply), [], JSON.stringify(reply.body));
      const created = reply.body.data.createRecord;
      assert.ok(!JSON.stringify(reply.body).includes('Not yours'), 'the other write shows');
      assert.equal(created.version, 1);
      provesAnswer(created, 'record.create');
      const now = await api.call('GET', url(created.id), tenant.key);
      assert.deepEqual(now.body.data, { name: 'Not yours' }, 'the other write did happen');
    });

    test('createRecord { proof } answers alike when another writer deleted the record', async () => {
      const reply = await racing(
        'create',
        async (id) => assert.equal((await api.call('DELETE', url(id), tenant.key)).status, 204),
        () => gql(api, auditor, CREATE, { data: { name: 'Soon gone' } }),
      );
      assert.deepEqual(codesOf(reply), [], JSON.stringify(reply.body));
      provesAnswer(reply.body.data.createRecord, 'record.create');
    });

    test('replaceRecord { proof } proves its own write, not a later one', async () => {
      const made = await api.call('POST', '/v1/collections/people/records', tenant.key, {
        name: 'First',
      });
      const reply = await racing(
        'update',
        async (id) => {
          const patched = await api.call('PATCH', url(id), tenant.key, { name: 'Third' });
          assert.equal(patched.status, 200, JSON.stringify(patched.body));
        },
        () => gql(api, developer, REPLACE, { id: made.body.id, data: { name: 'Second' } }),
      );
      assert.deepEqual(codesOf(reply), [], JSON.stringify(reply.body));
      const replaced = reply.body.data.replaceRecord;
      assert.equal(replaced.version, 2);
      assert.deepEqual(replaced.data, { name: 'Second' });
      provesAnswer(replaced, 'record.update');
    });
  });
}
