import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { buildSchema } from 'graphql';
import { schemaFields } from '../src/graphql/index.ts';
import { CLIENT_TYPE_DEFS, TYPE_DEFS, USER_TYPE_DEFS } from '../src/graphql/schema.ts';
import { uuid7 } from '../src/ids/index.ts';
import { PEOPLE_SCHEMA, type Reply, TestApi } from './support/api.ts';
import { type BackendName, backendNames } from './support/backends.ts';
import { type Caller, codesOf, gql, identities } from './support/graphql.ts';
import {
  CLIENT_FIELDS,
  FIELD_OPERATIONS,
  type FieldTarget,
  USER_FIELDS,
} from './support/graphql-fields.ts';
import { OidcPlatform } from './support/oidc-platform.ts';

/**
 * What tenant B must get from each field when it sends tenant A's ids: `absent`, the very
 * answer it gets for an id that exists nowhere (a not-found error); `own`, only B's own data.
 * A field added to the schema without an entry here fails the coverage test.
 */
const EXPECT: Readonly<Record<string, 'absent' | 'own'>> = {
  'Query.collections': 'own',
  'Query.collection': 'own',
  'Query.record': 'absent',
  'Query.records': 'own',
  'Query.ledger': 'own',
  'Mutation.defineCollection': 'own',
  'Mutation.createRecord': 'own',
  'Mutation.replaceRecord': 'absent',
  'Mutation.patchRecord': 'absent',
  'Mutation.deleteRecord': 'absent',
  'Collection.name': 'own',
  'Collection.schema': 'own',
  'Collection.encrypted': 'own',
  'Collection.version': 'own',
  'Collection.createdAt': 'own',
  'Collection.updatedAt': 'own',
  'Collection.records': 'own',
  'CollectionDefinition.created': 'own',
  'CollectionDefinition.collection': 'own',
  'Record.collection': 'absent',
  'Record.id': 'absent',
  'Record.version': 'absent',
  'Record.createdAt': 'absent',
  'Record.updatedAt': 'absent',
  'Record.data': 'absent',
  'Record.proof': 'absent',
  'RecordPage.items': 'own',
  'RecordPage.nextCursor': 'own',
  'Ledger.checkpoint': 'own',
  'Ledger.entries': 'own',
  'Ledger.recordProof': 'absent',
  'Checkpoint.size': 'own',
  'Checkpoint.checkpoint': 'own',
  'Checkpoint.platform': 'own',
  'PlatformAnchor.index': 'own',
  'PlatformAnchor.proof': 'own',
  'PlatformAnchor.checkpoint': 'own',
  'PlatformAnchor.cosignatures': 'own',
  'PlatformAnchor.witnessed': 'own',
  'LedgerEntry.seq': 'own',
  'LedgerEntry.batch': 'own',
  'LedgerEntry.entry': 'own',
  'LedgerEntry.leafHash': 'own',
  'RecordProof.entry': 'absent',
  'RecordProof.batch': 'absent',
  'RecordProof.entryProof': 'absent',
  'RecordProof.logProof': 'absent',
  'RecordProof.checkpoint': 'absent',
  'RecordProof.platform': 'absent',
  'RecordProof.salt': 'absent',
  'RecordProof.state': 'absent',
  'ProofAnchor.index': 'absent',
  'ProofAnchor.proof': 'absent',
  'ProofAnchor.checkpoint': 'absent',
  'Query.users': 'own',
  'Query.user': 'absent',
  ...Object.fromEntries(USER_FIELDS.map((field) => [`User.${field}`, 'absent' as const])),
  'UserPage.items': 'own',
  'UserPage.nextCursor': 'own',
  'Query.clients': 'own',
  'Query.client': 'absent',
  ...Object.fromEntries(CLIENT_FIELDS.map((field) => [`Client.${field}`, 'absent' as const])),
  'ClientPage.items': 'own',
  'ClientPage.nextCursor': 'own',
};

function run(api: Caller, key: string, field: string, target: FieldTarget) {
  const { query, variables } = FIELD_OPERATIONS[field]!(target);
  return gql(api, key, query, variables);
}

/** The answer with each of the target's ids replaced by its name, to compare answers. */
function masked(reply: Pick<Reply, 'body'>, target: FieldTarget): unknown {
  let text = JSON.stringify(reply.body);
  for (const [name, id] of Object.entries(target)) text = text.replaceAll(id, name);
  return JSON.parse(text);
}

test('the isolation table has a case for every field of the schema', () => {
  const fields = schemaFields(
    buildSchema([TYPE_DEFS, USER_TYPE_DEFS, CLIENT_TYPE_DEFS].join('\n')),
  );
  assert.deepEqual(
    fields.filter((f) => !(f in EXPECT)),
    [],
    'fields without a cross-tenant case',
  );
  assert.deepEqual(
    Object.keys(EXPECT).filter((f) => !fields.includes(f)),
    [],
    'cases for fields that no longer exist',
  );
});

/** A running platform and how tenant B's credential is made. */
interface Setup {
  readonly api: Caller & {
    tenant(slug: string): Promise<{ id: string; key: string }>;
    close(): Promise<void>;
  };
  /** B's credential for the attacks, from B's API key. */
  attacker(key: string): Promise<string>;
}

/** The credentials B attacks with: an API key, and a service client's OAuth access token. */
const CREDENTIALS: Readonly<Record<string, (backend: BackendName) => Promise<Setup>>> = {
  'an API key': async (backend) => ({
    api: await TestApi.start(backend),
    attacker: async (key) => key,
  }),
  'an OAuth access token': async (backend) => {
    const api = await OidcPlatform.start(backend);
    return { api, attacker: (key) => api.serviceToken(key, ['owner']) };
  },
};

for (const backend of backendNames())
  for (const [credential, setup] of Object.entries(CREDENTIALS)) {
    describe(`GraphQL cross-tenant isolation on ${backend}, B holding ${credential}`, () => {
      let api: Setup['api'];
      let a: { id: string; key: string };
      let b: { id: string; key: string };
      let attacker: string;
      let victim: FieldTarget;

      /** Everything of A's that B could read or change. */
      const snapshot = async () => ({
        collections: (await api.call('GET', '/v1/collections', a.key)).body,
        records: (await api.call('GET', '/v1/collections/people/records', a.key)).body,
        ledger: (await api.call('GET', '/v1/ledger/entries?start=0&end=1000', a.key)).body,
        users: (await api.call('GET', '/v1/users', a.key)).body,
        clients: (await api.call('GET', '/v1/clients', a.key)).body,
      });

      before(async () => {
        const started = await setup(backend);
        api = started.api;
        a = await api.tenant('victim');
        b = await api.tenant('attacker');
        for (const tenant of [a, b])
          await api.call('PUT', '/v1/collections/people', tenant.key, { schema: PEOPLE_SCHEMA });
        const made = await api.call('POST', '/v1/collections/people/records', a.key, {
          name: 'Ada',
        });
        victim = { recordId: made.body.id, ...(await identities(api, a.key)) };
        await api.call('POST', '/v1/collections/people/records', b.key, { name: 'Mallory' });
        await api.call('POST', '/v1/users', b.key, {
          email: 'mallory@example.org',
          name: 'Mallory',
        });
        attacker = await started.attacker(b.key);
        // A's ledger is sealed, so A's proofs exist to be asked for.
        assert.equal(
          (await api.call('GET', `/v1/collections/people/records/${victim.recordId}/proof`, a.key))
            .status,
          200,
        );
      });
      after(() => api.close());

      test("B's credential against every field with A's ids gets nothing of A's and changes nothing", async () => {
        const before = await snapshot();
        for (const [field, expect] of Object.entries(EXPECT)) {
          const reply = await run(api, attacker, field, victim);
          assert.ok([200, 400].includes(reply.status), `${field}: ${JSON.stringify(reply.body)}`);
          const text = JSON.stringify(reply.body);
          // "Ada" as a word (A's record, user and client), never inside base64: a checkpoint's
          // signatures are long enough to hold those three letters by chance.
          assert.ok(!/["\s]Ada[\s"']|ada@/.test(text), `${field} leaks A's data: ${text}`);
          assert.ok(!text.includes(a.id), `${field} leaks A's tenant id`);
          if (expect === 'own') {
            for (const id of Object.values(victim))
              assert.ok(!text.includes(id), `${field} leaks A's id ${id}: ${text}`);
            assert.deepEqual(codesOf(reply), [], `${field}: ${text}`);
            continue;
          }
          assert.ok(
            codesOf(reply).some((code) => code.endsWith('_NOT_FOUND')),
            `${field}: ${text}`,
          );
          const ghost = { recordId: uuid7(), userId: uuid7(), clientId: uuid7() };
          const control = await run(api, attacker, field, ghost);
          assert.deepEqual(
            masked(reply, victim),
            masked(control, ghost),
            `${field}: A's must look exactly like what does not exist`,
          );
        }
        assert.deepEqual(await snapshot(), before);
      });

      test("persisted queries are kept per tenant: B cannot run or detect A's", async () => {
        const query = '{ records(collection: "people", limit: 10) { items { data } } }';
        const extensions = {
          persistedQuery: {
            version: 1,
            sha256Hash: createHash('sha256').update(query).digest('hex'),
          },
        };
        const kept = await api.call('POST', '/v1/graphql', a.key, { query, extensions });
        assert.deepEqual(codesOf(kept), []);
        const byB = await api.call('POST', '/v1/graphql', attacker, { extensions });
        assert.equal(byB.status, 400);
        assert.deepEqual(codesOf(byB), ['PALISADE_PERSISTED_QUERY_NOT_FOUND']);
        const byA = await api.call('POST', '/v1/graphql', a.key, { extensions });
        assert.deepEqual(byA.body, kept.body);
      });
    });
  }
