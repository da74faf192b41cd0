import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  appendLeaves,
  canonicalJson,
  commitState,
  encodeBatchLeaf,
  formatCheckpoint,
  inclusionProof,
  isLedgerError,
  type LedgerBundle,
  type LedgerEntry,
  MemoryHashStore,
  type NoteSigner,
  parseVerifierKey,
  rootFromLeafHashes,
  signNote,
  toBase64,
  toBase64Url,
  utf8,
  verifyBundle,
} from '../src/index.ts';
import {
  ed25519CosignatureSigner,
  ed25519Signer,
  generateEd25519Key,
  generateMlDsa44Key,
  nodeHasher as hasher,
  mldsa44Signer,
  nodeSha256,
  nodeVerifyProvider,
} from '../src/node/index.ts';
import { failsWith } from './support.ts';

// The platform's keys are named after its origin and sign tenant and platform checkpoints.
const ORIGIN = 'palisade.example/a1b2';
const ed = generateEd25519Key(ORIGIN);
const pq = generateMlDsa44Key(ORIGIN);
const edSigner = ed25519Signer(ORIGIN, ed.privateKey);
const pqSigner = mldsa44Signer(ORIGIN, pq.privateKey);
const trusted = [ed.vkey, pq.vkey].map((vkey) => parseVerifierKey(vkey, nodeVerifyProvider));

const TIME = '2026-01-31T12:00:00.000Z';
const salt = new Uint8Array(16).fill(9);
const resource = (id: string) => `collections/notes/records/${id}`;

/** One record's write: its resource and the state the entry commits to. */
interface Write {
  readonly id: string;
  readonly state: unknown;
}

interface BundleOptions {
  readonly tenantOrigin?: string;
  readonly platformOrigin?: string;
  readonly platformSigners?: readonly NoteSigner[];
}

/** A tenant `t1` ledger of `batches` (each a list of writes), anchored in a platform log. */
async function makeBundle(
  batches: readonly (readonly Write[])[],
  options: BundleOptions = {},
): Promise<LedgerBundle> {
  const entries: { entry: string; salt: string }[] = [];
  const leaves: string[] = [];
  for (const [index, writes] of batches.entries()) {
    const firstSeq = entries.length;
    const texts = writes.map(({ id, state }, i) => {
      const entry: LedgerEntry = {
        seq: firstSeq + i,
        time: TIME,
        actor: 'user:alice',
        action: 'record.put',
        resource: resource(id),
        commitment: commitState(nodeSha256, salt, state),
      };
      return canonicalJson(entry);
    });
    for (const entry of texts) entries.push({ entry, salt: toBase64Url(salt) });
    const entriesRoot = rootFromLeafHashes(
      hasher,
      texts.map((text) => hasher.leafHash(utf8(text))),
    );
    const header = {
      v: 1 as const,
      tenant: 't1',
      batch: index,
      firstSeq,
      count: writes.length,
      time: TIME,
      entriesRoot: toBase64(entriesRoot),
    };
    leaves.push(new TextDecoder().decode(encodeBatchLeaf(header)));
  }
  const tenantRoot = rootFromLeafHashes(
    hasher,
    leaves.map((leaf) => hasher.leafHash(utf8(leaf))),
  );
  const tenantText = formatCheckpoint({
    origin: options.tenantOrigin ?? `${ORIGIN}/tenant/t1`,
    size: leaves.length,
    root: tenantRoot,
    extensions: [],
  });
  const platformStore = new MemoryHashStore();
  const platformLeaves = [`${ORIGIN}/tenant/t0\n1\n`, tenantText].map((t) =>
    hasher.leafHash(utf8(t)),
  );
  const platform = await appendLeaves(hasher, platformStore, 0, platformLeaves);
  platformStore.writeNodes(platform.nodes);
  const platformText = formatCheckpoint({
    origin: options.platformOrigin ?? ORIGIN,
    size: platform.size,
    root: platform.root,
    extensions: [],
  });
  const latest = new Map<string, unknown>();
  for (const writes of batches) for (const { id, state } of writes) latest.set(id, state);
  return {
    format: 'palisade-ledger-bundle/v1',
    tenant: 't1',
    keys: [ed.vkey, pq.vkey],
    storedRoot: toBase64(tenantRoot),
    checkpoint: await signNote(tenantText, [edSigner]),
    platform: {
      index: 1,
      proof: (await inclusionProof(hasher, platformStore, 1, 2)).map(toBase64),
      checkpoint: await signNote(platformText, options.platformSigners ?? [edSigner, pqSigner]),
    },
    batches: leaves,
    entries,
    records: [...latest].map(([id, data]) => ({ resource: resource(id), data })),
    recordsAt: batches.length,
  };
}

const HISTORY: Write[][] = [
  [
    { id: 'r1', state: { text: 'one' } },
    { id: 'r2', state: { text: 'two' } },
  ],
  [{ id: 'r1', state: { text: 'one, edited' } }],
];

/** `bundle` with the records as they stood after its first `at` batches. */
function recordsAt(bundle: LedgerBundle, history: readonly (readonly Write[])[], at: number) {
  const latest = new Map<string, unknown>();
  for (const writes of history.slice(0, at))
    for (const { id, state } of writes) latest.set(id, state);
  const records = [...latest].map(([id, data]) => ({ resource: resource(id), data }));
  return { ...bundle, records, recordsAt: at };
}

describe('verifyBundle', () => {
  it('verifies an honest bundle', async () => {
    const summary = await verifyBundle(hasher, await makeBundle(HISTORY), trusted);
    assert.equal(summary.size, 2);
    assert.equal(summary.entries, 3);
    assert.equal(summary.records, 2);
    assert.equal(summary.platformSize, 2);
  });

  it('rejects a platform checkpoint under another origin, which no trusted key must sign', async () => {
    // An Ed25519 signature alone (forged, or from another of the key's uses) must not stand
    // in for the hybrid platform signature just because the origin line names another log.
    const bundle = await makeBundle(HISTORY, {
      platformOrigin: 'elsewhere.example/log',
      platformSigners: [edSigner],
    });
    await assert.rejects(verifyBundle(hasher, bundle, trusted), failsWith('LEDGER_TAMPERED'));
  });

  it("rejects a tenant checkpoint whose origin is not the platform's origin for the tenant", async () => {
    for (const tenantOrigin of ['elsewhere.example/tenant/t1', `${ORIGIN}/tenant/x/tenant/t1`]) {
      const bundle = await makeBundle(HISTORY, { tenantOrigin });
      await assert.rejects(
        verifyBundle(hasher, bundle, trusted),
        failsWith('LEDGER_TAMPERED'),
        tenantOrigin,
      );
    }
  });

  it('checks the records against the ledger as it stood at recordsAt', async () => {
    // Writes that landed between the records snapshot and the checkpoint: an edit of r1 and
    // a new r3. The records reflect the first batch only, and are not tampered with.
    const history = [...HISTORY, [{ id: 'r3', state: { text: 'three' } }]];
    const bundle = recordsAt(await makeBundle(history), history, 1);
    const summary = await verifyBundle(hasher, bundle, trusted);
    assert.equal(summary.records, 2);
  });

  it('still names a record changed behind the API at recordsAt', async () => {
    const bundle = recordsAt(await makeBundle(HISTORY), HISTORY, 1);
    const records = bundle.records.map((r, i) => (i === 0 ? { ...r, data: { text: 'x' } } : r));
    await assert.rejects(
      verifyBundle(hasher, { ...bundle, records }, trusted),
      (e) => isLedgerError(e, 'LEDGER_TAMPERED') && /r1 does not match/.test(e.message),
    );
  });

  it('checks only the records of collections the bundle does not withhold', async () => {
    const bundle = await makeBundle(HISTORY);
    const withheld = { ...bundle, records: [], withheldCollections: ['notes'] };
    const summary = await verifyBundle(hasher, withheld, trusted);
    assert.equal(summary.records, 0);
    assert.deepEqual(summary.withheldCollections, ['notes']);
    await assert.rejects(
      verifyBundle(hasher, { ...bundle, records: [] }, trusted),
      (e) => isLedgerError(e, 'LEDGER_TAMPERED') && /missing from the store/.test(e.message),
    );
    await assert.rejects(
      verifyBundle(hasher, { ...bundle, withheldCollections: ['notes'] }, trusted),
      (e) => isLedgerError(e, 'LEDGER_BAD_BUNDLE') && /says it withholds/.test(e.message),
    );
    const notNames = { ...withheld, withheldCollections: [7] as unknown as string[] };
    await assert.rejects(verifyBundle(hasher, notNames, trusted), failsWith('LEDGER_BAD_BUNDLE'));
    const older = await verifyBundle(hasher, bundle, trusted);
    assert.deepEqual(older.withheldCollections, [], 'a bundle without the field withholds none');
  });

  it('checks every record but those the bundle withholds one by one, which must exist', async () => {
    const bundle = await makeBundle(HISTORY);
    const records = bundle.records!.filter((r) => r.resource !== resource('r1'));
    const withheld = { ...bundle, records, withheldRecords: [resource('r1')] };
    const summary = await verifyBundle(hasher, withheld, trusted);
    assert.equal(summary.records, 1);
    assert.deepEqual(summary.withheldRecords, [resource('r1')]);
    assert.deepEqual(summary.withheldCollections, []);
    // A verifier that does not know the field reads it as absent: r1 is then missing.
    await assert.rejects(
      verifyBundle(hasher, { ...withheld, withheldRecords: undefined }, trusted),
      (e) => isLedgerError(e, 'LEDGER_TAMPERED') && /r1 is in the ledger.*missing/.test(e.message),
    );
    const bad = async (change: Partial<LedgerBundle>, message: RegExp) =>
      assert.rejects(
        verifyBundle(hasher, { ...withheld, ...change }, trusted),
        (e) => isLedgerError(e, 'LEDGER_BAD_BUNDLE') && message.test(e.message),
        String(message),
      );
    await bad({ records: bundle.records }, /r1 is one the bundle says it withholds/);
    await bad(
      { withheldRecords: [resource('r1'), resource('r9')] },
      /r9 is not a record of the ledger/,
    );
    await bad({ withheldRecords: ['collections/notes'] }, /is not a record resource/);
    await bad({ withheldRecords: [7] as unknown as string[] }, /is not a record resource/);
    await bad({ withheldRecords: 'r1' as unknown as string[] }, /must be an array/);
    await bad(
      { records: [], withheldCollections: ['notes'] },
      /r1 is in a collection the bundle withholds whole/,
    );
    const older = await verifyBundle(hasher, bundle, trusted);
    assert.deepEqual(older.withheldRecords, [], 'a bundle without the field withholds none');
  });

  it('names the field of a bundle that is not shaped as one, never failing on it untyped', async () => {
    const bundle = await makeBundle(HISTORY);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ tenant: 7 }, /^tenant /],
      [{ storedRoot: null }, /^storedRoot /],
      [{ checkpoint: undefined }, /^checkpoint /],
      [{ platform: undefined }, /^platform /],
      [{ platform: { ...bundle.platform, checkpoint: 1 } }, /^platform\.checkpoint /],
      [{ platform: { ...bundle.platform, proof: 'AAAA' } }, /^platform\.proof /],
      [{ platform: { ...bundle.platform, index: -1 } }, /^platform\.index /],
      [{ batches: [...bundle.batches, 5] }, /^batches\[2\] /],
      [{ entries: [null] }, /^entries\[0\] /],
      [{ entries: [{ entry: bundle.entries[0]!.entry, salt: 3 }] }, /^entries\[0\]\.salt /],
      [{ records: [null] }, /^records\[0\] /],
    ];
    for (const [change, message] of cases) {
      await assert.rejects(
        verifyBundle(hasher, { ...bundle, ...change } as LedgerBundle, trusted),
        (e: unknown) => isLedgerError(e, 'LEDGER_BAD_BUNDLE') && message.test(e.message),
        JSON.stringify(change),
      );
    }
  });

  it('rejects a recordsAt the bundle does not hold', async () => {
    const bundle = await makeBundle(HISTORY);
    for (const at of [3, -1, 0.5, null]) {
      await assert.rejects(
        verifyBundle(hasher, { ...bundle, recordsAt: at }, trusted),
        failsWith('LEDGER_BAD_BUNDLE'),
        String(at),
      );
    }
  });
});

describe('verifyBundle with witnesses', () => {
  // w1 cosigns with two keys (Ed25519 and ML-DSA-44), w2 with one; w3 is trusted but silent.
  const w1ed = generateEd25519Key('witness.example/w1', 0x04);
  const w1pq = generateMlDsa44Key('witness.example/w1');
  const w2 = generateEd25519Key('witness.example/w2', 0x04);
  const w3 = generateEd25519Key('witness.example/w3', 0x04);
  const cosigners = [
    ed25519CosignatureSigner('witness.example/w1', w1ed.privateKey),
    mldsa44Signer('witness.example/w1', w1pq.privateKey),
    ed25519CosignatureSigner('witness.example/w2', w2.privateKey),
  ];
  const withWitnesses = [
    ...trusted,
    ...[w1ed, w1pq, w2, w3].map(({ vkey }) => parseVerifierKey(vkey, nodeVerifyProvider)),
  ];
  const witnessed = () =>
    makeBundle(HISTORY, { platformSigners: [edSigner, pqSigner, ...cosigners] });

  it('names the witnesses whose trusted keys all cosigned, and requires none by default', async () => {
    const bundle = await witnessed();
    const summary = await verifyBundle(hasher, bundle, withWitnesses);
    assert.deepEqual(summary.witnesses, ['witness.example/w1', 'witness.example/w2']);
    assert.equal(summary.platformOrigin, ORIGIN);
    assert.deepEqual((await verifyBundle(hasher, bundle, trusted)).witnesses, []);
    const unwitnessed = await verifyBundle(hasher, await makeBundle(HISTORY), withWitnesses);
    assert.deepEqual(unwitnessed.witnesses, []);
  });

  it('requires witnessQuorum witnesses, naming those that cosigned and those that did not', async () => {
    const bundle = await witnessed();
    const two = await verifyBundle(hasher, bundle, withWitnesses, { witnessQuorum: 2 });
    assert.equal(two.witnesses.length, 2);
    await assert.rejects(
      verifyBundle(hasher, bundle, withWitnesses, { witnessQuorum: 3 }),
      (e) =>
        isLedgerError(e, 'LEDGER_NOT_WITNESSED') &&
        e.message ===
          'the platform checkpoint at size 2 is cosigned by 2 of the 3 witnesses required ' +
            '(witness.example/w1, witness.example/w2); no valid cosignature from every trusted key of witness.example/w3',
    );
    await assert.rejects(
      verifyBundle(hasher, bundle, trusted, { witnessQuorum: 1 }),
      (e) =>
        isLedgerError(e, 'LEDGER_NOT_WITNESSED') &&
        e.message.endsWith('is cosigned by 0 of the 1 witness required; no witness key is trusted'),
    );
  });

  it("does not count a witness one of whose trusted keys' cosignatures was removed", async () => {
    // The ML-DSA-44 line of w1 removed: its Ed25519 line alone does not make it count.
    const bundle = await makeBundle(HISTORY, {
      platformSigners: [edSigner, pqSigner, cosigners[0]!, cosigners[2]!],
    });
    const summary = await verifyBundle(hasher, bundle, withWitnesses);
    assert.deepEqual(summary.witnesses, ['witness.example/w2']);
    await assert.rejects(
      verifyBundle(hasher, bundle, withWitnesses, { witnessQuorum: 2 }),
      (e) =>
        isLedgerError(e, 'LEDGER_NOT_WITNESSED') &&
        e.message.includes('witness.example/w1, witness.example/w3'),
    );
  });

  it('refuses a witnessQuorum that is not a count', async () => {
    const bundle = await witnessed();
    for (const witnessQuorum of [-1, 1.5, Number.NaN]) {
      await assert.rejects(
        verifyBundle(hasher, bundle, withWitnesses, { witnessQuorum }),
        failsWith('LEDGER_INVALID_ARGUMENT'),
        String(witnessQuorum),
      );
    }
  });
});
