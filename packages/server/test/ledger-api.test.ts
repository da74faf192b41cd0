import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  decodeBatchLeaf,
  fromBase64,
  fromBase64Url,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  type RecordProof,
  verifyConsistency,
  verifyInclusion,
  verifyRecordProof,
  verifyStateCommitment,
} from '@palisade/ledger';
import { nodeHasher, nodeSha256, nodeVerifyProvider } from '@palisade/ledger/node';
import { PEOPLE_SCHEMA, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

for (const backend of backendNames()) {
  describe(`the ledger over REST on ${backend}`, () => {
    let api: TestApi;
    let key: string;
    let tenantId: string;
    const ids: string[] = [];
    before(async () => {
      api = await TestApi.start(backend);
      ({ key, id: tenantId } = await api.tenant('ledger'));
      await api.call('PUT', '/v1/collections/people', key, { schema: PEOPLE_SCHEMA });
      const created = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          api.call('POST', '/v1/collections/people/records', key, { name: `P${i}`, age: i }),
        ),
      );
      ids.push(...created.map((r) => r.body.id as string));
      await api.call('PATCH', `/v1/collections/people/records/${ids[0]}`, key, { age: 99 });
      await api.call('DELETE', `/v1/collections/people/records/${ids[1]}`, key);
    });
    after(() => api.close());

    const verifiers = async () => {
      const keys = await api.call('GET', '/v1/platform/ledger/keys', undefined);
      assert.equal(keys.status, 200);
      assert.equal(keys.body.keys.length, 2, 'an Ed25519 key and an ML-DSA-44 key');
      return keys.body.keys.map((vkey: string) => parseVerifierKey(vkey, nodeVerifyProvider));
    };

    test('every write is an entry with a salted commitment, never the data', async () => {
      const { body } = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key);
      const actions = body.entries.map((e: { entry: { action: string } }) => e.entry.action);
      assert.equal(actions[0], 'tenant.create');
      for (const action of ['api-key.create', 'collection.create'])
        assert.ok(actions.includes(action), action);
      assert.equal(actions.filter((a: string) => a === 'record.create').length, 20);
      assert.ok(actions.includes('record.update') && actions.includes('record.delete'));
      assert.deepEqual(
        body.entries.map((e: { seq: number }) => e.seq),
        body.entries.map((_: unknown, i: number) => i),
      );
      const text = JSON.stringify(body);
      assert.ok(!text.includes('P1"') && !text.includes('"age"'), 'no record data in the ledger');
      const deleted = body.entries.find(
        (e: { entry: { action: string } }) => e.entry.action === 'record.delete',
      );
      assert.equal(deleted.entry.commitment, null);
    });

    test('concurrent writes were group-committed: fewer batches than entries', async () => {
      const entries = (await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key)).body
        .entries.length;
      const batches = (await api.call('GET', '/v1/ledger/batches?start=0&end=1000', key)).body
        .batches;
      assert.ok(batches.length < entries, `${batches.length} batches for ${entries} entries`);
      let next = 0;
      for (const [i, b] of batches.entries()) {
        const header = decodeBatchLeaf(Buffer.from(b.leaf));
        assert.equal(header.batch, i);
        assert.equal(header.tenant, tenantId);
        assert.equal(header.firstSeq, next);
        next += header.count;
      }
      assert.equal(next, entries);
    });

    test('the checkpoint is signed, and anchored in the platform checkpoint signed Ed25519 + ML-DSA-44', async () => {
      const keys = await verifiers();
      const { body } = await api.call('GET', '/v1/ledger/checkpoint', key);
      const tenantNote = await openNote(body.checkpoint, keys);
      const checkpoint = parseCheckpoint(tenantNote.text);
      assert.match(checkpoint.origin, new RegExp(`/tenant/${tenantId}$`));
      assert.equal(checkpoint.size, body.size);
      const platformNote = await openNote(body.platform.checkpoint, keys);
      assert.equal(
        platformNote.verified.length,
        2,
        'both the Ed25519 and the ML-DSA-44 line verify',
      );
      const platform = parseCheckpoint(platformNote.text);
      verifyInclusion(
        nodeHasher,
        nodeHasher.leafHash(Buffer.from(tenantNote.text)),
        body.platform.index,
        platform.size,
        body.platform.proof.map(fromBase64),
        platform.root,
      );
    });

    test('inclusion and consistency proofs verify against the roots they claim', async () => {
      const { body: cp } = await api.call('GET', '/v1/ledger/checkpoint', key);
      const { root, size } = parseCheckpoint(
        (await openNote(cp.checkpoint, await verifiers())).text,
      );
      for (const index of [0, Math.floor(size / 2), size - 1]) {
        const { body } = await api.call(
          'GET',
          `/v1/ledger/proof/inclusion?index=${index}&size=${size}`,
          key,
        );
        verifyInclusion(
          nodeHasher,
          nodeHasher.leafHash(Buffer.from(body.leaf)),
          index,
          size,
          body.proof.map(fromBase64),
          root,
        );
      }
      const earlier = await api.call('GET', `/v1/ledger/proof/inclusion?index=0&size=2`, key);
      assert.equal(earlier.status, 200);
      const { body } = await api.call('GET', `/v1/ledger/proof/consistency?from=2&to=${size}`, key);
      const batches = (await api.call('GET', '/v1/ledger/batches?start=0&end=2', key)).body.batches;
      const leaves = batches.map((b: { leaf: string }) => nodeHasher.leafHash(Buffer.from(b.leaf)));
      verifyConsistency(
        nodeHasher,
        2,
        size,
        body.proof.map(fromBase64),
        nodeHasher.nodeHash(leaves[0], leaves[1]),
        root,
      );
    });

    test("a record's proof verifies offline, and its commitment opens to the record's current data", async () => {
      const keys = await verifiers();
      const { body } = await api.call('GET', `/v1/collections/people/records/${ids[0]}/proof`, key);
      const { salt, ...proof } = body as RecordProof & { salt: string };
      const verified = await verifyRecordProof(nodeHasher, proof, { tenant: keys, platform: keys });
      assert.equal(verified.entry.action, 'record.update');
      const record = await api.call('GET', `/v1/collections/people/records/${ids[0]}`, key);
      verifyStateCommitment(
        nodeSha256,
        verified.entry.commitment!,
        fromBase64Url(salt)!,
        record.body.data,
      );
      assert.throws(() =>
        verifyStateCommitment(nodeSha256, verified.entry.commitment!, fromBase64Url(salt)!, {
          ...record.body.data,
          age: 1,
        }),
      );
      const deleted = await api.call('GET', `/v1/collections/people/records/${ids[1]}/proof`, key);
      assert.equal(deleted.status, 404);
    });

    test("a record's proof is consistent when the record changes while it is built", async (t) => {
      const shard = (await api.platform.stores.controlPlane.getTenant(tenantId))!.shard;
      const { reader } = await api.platform.stores.shards.get(shard)!.tenant(tenantId);
      const latestEntry = reader.latestEntry;
      let raced = false;
      // An update commits just as the proof looks up the record's newest ledger entry.
      t.mock.method(
        Object.getPrototypeOf(reader),
        'latestEntry',
        async function (this: typeof reader, resource: string) {
          if (!raced) {
            raced = true;
            const put = await api.call('PUT', `/v1/collections/people/records/${ids[2]}`, key, {
              name: 'raced',
            });
            assert.equal(put.status, 200);
          }
          return latestEntry.call(this, resource);
        },
      );
      const { body } = await api.call('GET', `/v1/collections/people/records/${ids[2]}/proof`, key);
      assert.ok(raced);
      verifyStateCommitment(
        nodeSha256,
        body.entry.commitment,
        fromBase64Url(body.salt)!,
        body.state,
      );
    });

    test('C2SP tiles serve the stored hashes and batch leaves', async () => {
      const { body: cp } = await api.call('GET', '/v1/ledger/checkpoint', key);
      const size = cp.size as number;
      const width = String(size).padStart(3, '0');
      const tile = await api.http.inject({
        method: 'GET',
        url: `/v1/ledger/tile/0/000.p/${size}`,
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(tile.statusCode, 200, `${width} ${tile.body}`);
      assert.equal(tile.rawPayload.length, 32 * size);
      const entries = await api.http.inject({
        method: 'GET',
        url: `/v1/ledger/tile/entries/000.p/${size}`,
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(entries.statusCode, 200);
      const beyond = await api.call('GET', `/v1/ledger/tile/0/000.p/${size + 1}`, key);
      assert.equal(beyond.status, 404);
    });

    test('seals are incremental: a new write gives a larger checkpoint consistent with the old one', async () => {
      const keys = await verifiers();
      const before = parseCheckpoint(
        (
          await openNote(
            (
              await api.call('GET', '/v1/ledger/checkpoint', key)
            ).body.checkpoint,
            keys,
          )
        ).text,
      );
      await api.call('POST', '/v1/collections/people/records', key, { name: 'Late' });
      const after = parseCheckpoint(
        (
          await openNote(
            (
              await api.call('GET', '/v1/ledger/checkpoint', key)
            ).body.checkpoint,
            keys,
          )
        ).text,
      );
      assert.equal(after.size, before.size + 1);
      const { body } = await api.call(
        'GET',
        `/v1/ledger/proof/consistency?from=${before.size}&to=${after.size}`,
        key,
      );
      verifyConsistency(
        nodeHasher,
        before.size,
        after.size,
        body.proof.map(fromBase64),
        before.root,
        after.root,
      );
    });
  });
}
