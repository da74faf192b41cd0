/**
 * The ledger's entry listing (GET /v1/ledger/entries, GraphQL ledger.entries) shows an entry's
 * text only when its caller may read the resource it names, decided as that resource's own
 * read is: an entry of a collection, record, device or user a policy forbids the caller keeps
 * its place (seq, batch) and its leaf hash but not its text, so nothing in the listing names
 * the item, while the caller still recomputes every batch's entriesRoot from the leaf hashes
 * and checks it against the tenant log's leaves. An owner no policy forbids sees every entry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeBatchLeaf, fromBase64, rootFromLeafHashes, toBase64 } from '@palisade/ledger';
import { nodeHasher } from '@palisade/ledger/node';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { gql, keyWith } from './support/graphql.ts';

interface Listed {
  readonly seq: number;
  readonly batch: number;
  readonly entry: { resource: string } | null;
  readonly leafHash: string;
}

for (const backend of backendNames()) {
  describe(`ledger entries under policies that forbid items, on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };
    let admin: string;
    /** What the admin may not read, each named by the ledger resources of its entries. */
    const hidden = { collection: 'salaries', device: '', record: '', user: '' };

    before(async () => {
      api = await TestApi.start(backend);
      tenant = await api.tenant('ledger-entries');
      admin = await keyWith(api, tenant.id, ['admin']);
      for (const name of ['salaries', 'notes'])
        assert.equal(
          (
            await api.call('PUT', `/v1/collections/${name}`, tenant.key, {
              schema: { type: 'object' },
            })
          ).status,
          201,
        );
      const record = async () =>
        (await api.call('POST', '/v1/collections/notes/records', tenant.key, { n: 1 })).body.id;
      hidden.record = await record();
      await record();
      const device = async (name: string) =>
        (await api.call('POST', '/v1/devices', tenant.key, { name })).body.id;
      hidden.device = await device('hidden-meter');
      await device('meter');
      hidden.user = (
        await api.call('POST', '/v1/users', tenant.key, { email: 'x@example.org', name: 'X' })
      ).body.user.id;
      assert.ok(hidden.record && hidden.device && hidden.user, JSON.stringify(hidden));
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"admin", action == Palisade::Action::"collections:read", resource == Palisade::Collection::"${hidden.collection}");
forbid (principal in Palisade::Role::"admin", action == Palisade::Action::"records:read", resource == Palisade::Record::"${hidden.record}");
forbid (principal in Palisade::Role::"admin", action == Palisade::Action::"devices:read", resource == Palisade::Device::"${hidden.device}");
forbid (principal in Palisade::Role::"admin", action == Palisade::Action::"users:read", resource == Palisade::User::"${hidden.user}");`,
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
    });
    after(() => api.close());

    async function rest(key: string): Promise<Listed[]> {
      const reply = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return reply.body.entries;
    }

    async function graphql(key: string): Promise<Listed[]> {
      const reply = await gql(
        api,
        key,
        '{ ledger { entries(start: 0, end: 1000) { seq batch entry leafHash } } }',
      );
      assert.equal(reply.body.errors, undefined, JSON.stringify(reply.body));
      return reply.body.data.ledger.entries;
    }

    /** Every batch the entries cover hashes, from their leaf hashes, to its log leaf's root. */
    async function assertBatchesVerify(key: string, entries: readonly Listed[]): Promise<void> {
      const last = entries.at(-1)!.batch;
      const reply = await api.call('GET', `/v1/ledger/batches?start=0&end=${last + 1}`, key);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      for (const { batch, leaf } of reply.body.batches as { batch: number; leaf: string }[]) {
        const header = decodeBatchLeaf(Buffer.from(leaf, 'utf8'));
        const hashes = entries.filter((e) => e.batch === batch).map((e) => fromBase64(e.leafHash)!);
        assert.equal(hashes.length, header.count, `batch ${batch}`);
        assert.equal(toBase64(rootFromLeafHashes(nodeHasher, hashes)), header.entriesRoot);
      }
    }

    for (const [name, list] of [
      ['GET /v1/ledger/entries', rest],
      ['GraphQL ledger.entries', graphql],
    ] as const) {
      test(`${name} names no item the caller may not read, and still verifies`, async () => {
        const owner = await list(tenant.key);
        const mine = await list(admin);
        const names = Object.values(hidden);
        const named = (e: Listed) =>
          e.entry !== null && names.some((n) => JSON.stringify(e.entry).includes(n));
        assert.ok(owner.filter(named).length >= 4, 'the owner sees every entry');
        assert.ok(owner.every((e) => e.entry !== null));
        for (const n of names)
          assert.ok(!JSON.stringify(mine).includes(n), `${n} is named to the admin`);
        assert.deepEqual(
          mine.map((e) => [e.seq, e.batch, e.leafHash]),
          owner.map((e) => [e.seq, e.batch, e.leafHash]),
          'every entry keeps its place and leaf hash',
        );
        for (const [i, e] of mine.entries())
          assert.deepEqual(e.entry, named(owner[i]!) ? null : owner[i]!.entry, `entry ${e.seq}`);
        assert.ok(
          mine.some((e) => e.entry?.resource.startsWith('devices/')),
          'the readable device is shown',
        );
        await assertBatchesVerify(admin, mine);
      });
    }
  });
}
