import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  appendLeaves,
  type BatchHeader,
  batchRoot,
  canonicalJson,
  commitState,
  decodeBatchLeaf,
  encodeBatchLeaf,
  entryHash,
  formatCheckpoint,
  inclusionProof,
  isLedgerError,
  type LedgerEntry,
  type LedgerErrorCode,
  MemoryHashStore,
  parseVerifierKey,
  type RecordProof,
  signNote,
  toBase64,
  toBase64Url,
  utf8,
  validateEntry,
  verifyRecordProof,
  verifyStateCommitment,
} from '../src/index.ts';
import {
  ed25519Signer,
  generateEd25519Key,
  generateMlDsa44Key,
  nodeHasher as hasher,
  mldsa44Signer,
  nodeSha256,
  nodeVerifyProvider,
} from '../src/node/index.ts';
import { failsWith } from './support.ts';

const salt = new Uint8Array(16).fill(7);

function entry(seq: number, extra: Record<string, string> = {}): LedgerEntry {
  return {
    seq,
    time: '2025-01-31T12:00:00.000Z',
    actor: 'user:alice',
    action: 'record.create',
    resource: `collections/orders/records/${seq}`,
    commitment: commitState(nodeSha256, salt, { id: seq, total: 10.5 }),
    ...extra,
  };
}

describe('entries, batches and commitments', () => {
  it('hashes the canonical JSON of an entry', () => {
    const e = entry(3, { note: 'x' });
    assert.deepEqual(entryHash(hasher, e), hasher.leafHash(utf8(canonicalJson(e))));
  });

  it('validates entries and names the bad field', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...entry(0), seq: -1 }, /entry\.seq/],
      [{ ...entry(0), time: '2025-01-31T12:00:00Z' }, /entry\.time/],
      [{ ...entry(0), time: '2025-02-30T12:00:00.000Z' }, /entry\.time/],
      [{ ...entry(0), actor: '' }, /entry\.actor/],
      [{ ...entry(0), commitment: 'abc' }, /entry\.commitment/],
      [{ ...entry(0), extra: 5 }, /entry\.extra/],
    ];
    for (const [value, field] of cases) {
      assert.throws(
        () => validateEntry(value),
        (e) => isLedgerError(e, 'LEDGER_BAD_ENTRY') && field.test(e.message),
      );
    }
    assert.throws(() => validateEntry([]), failsWith('LEDGER_BAD_ENTRY'));
    validateEntry({ ...entry(0), commitment: null });
  });

  it('encodes and decodes batch leaves canonically', () => {
    const header: BatchHeader = {
      v: 1,
      tenant: 't1',
      batch: 0,
      firstSeq: 0,
      count: 2,
      time: '2025-01-31T12:00:00.000Z',
      entriesRoot: toBase64(batchRoot(hasher, [entry(0), entry(1)])),
    };
    const bytes = encodeBatchLeaf(header);
    assert.equal(
      new TextDecoder().decode(bytes),
      `{"batch":0,"count":2,"entriesRoot":"${header.entriesRoot}","firstSeq":0,"tenant":"t1","time":"2025-01-31T12:00:00.000Z","v":1}`,
    );
    assert.deepEqual(decodeBatchLeaf(bytes), header);
    assert.throws(
      () => decodeBatchLeaf(utf8(JSON.stringify(header))),
      failsWith('LEDGER_BAD_BATCH'),
    );
    assert.throws(() => decodeBatchLeaf(new Uint8Array([0xff])), failsWith('LEDGER_BAD_BATCH'));
    for (const bad of [
      { v: 2 },
      { count: 0 },
      { tenant: '' },
      { entriesRoot: 'x' },
      { extra: 1 },
      { batch: 1.5 },
    ]) {
      assert.throws(
        () => encodeBatchLeaf({ ...header, ...bad } as BatchHeader),
        failsWith('LEDGER_BAD_BATCH'),
      );
    }
  });

  it('commits to salted state and verifies openings', () => {
    const c = commitState(nodeSha256, salt, { b: 1, a: 'x' });
    assert.equal(c, toBase64Url(nodeSha256(utf8(`${'\u0007'.repeat(16)}{"a":"x","b":1}`))));
    verifyStateCommitment(nodeSha256, c, salt, { a: 'x', b: 1 });
    assert.throws(
      () => verifyStateCommitment(nodeSha256, c, salt, { a: 'y', b: 1 }),
      failsWith('LEDGER_BAD_COMMITMENT'),
    );
    assert.throws(
      () => verifyStateCommitment(nodeSha256, '!', salt, {}),
      failsWith('LEDGER_BAD_COMMITMENT'),
    );
    assert.throws(
      () => commitState(nodeSha256, new Uint8Array(8), {}),
      failsWith('LEDGER_INVALID_ARGUMENT'),
    );
  });
});

describe('verifyRecordProof', async () => {
  // The platform's keys are named after its origin; a tenant log's origin is
  // `<platform origin>/tenant/<tenant id>`, and its checkpoints may carry a tenant key too.
  const PLATFORM = 'palisade.example/platform';
  const TENANT = `${PLATFORM}/tenant/t1`;
  const tenantKey = generateEd25519Key(TENANT);
  const platformEd = generateEd25519Key(PLATFORM);
  const platformPq = generateMlDsa44Key(PLATFORM);
  const tenantSigner = ed25519Signer(TENANT, tenantKey.privateKey);
  const platformSigners = [
    ed25519Signer(PLATFORM, platformEd.privateKey),
    mldsa44Signer(PLATFORM, platformPq.privateKey),
  ];
  const keys = {
    tenant: [parseVerifierKey(tenantKey.vkey, nodeVerifyProvider)],
    platform: [
      parseVerifierKey(platformEd.vkey, nodeVerifyProvider),
      parseVerifierKey(platformPq.vkey, nodeVerifyProvider),
    ],
  };

  /**
   * Three batches of 3, 1 and 5 entries whose headers name `batchTenant`, in a tenant log
   * whose checkpoint has `origin`, committed at index 2 of the platform log after two other
   * tenants' checkpoints. Returns the record proof of entry `seq`.
   */
  async function ledger(batchTenant = 't1', origin = TENANT) {
    const tenantStore = new MemoryHashStore();
    const batches: { header: BatchHeader; entries: LedgerEntry[] }[] = [];
    let seq = 0;
    let size = 0;
    let root = hasher.emptyRoot();
    for (const [b, count] of [3, 1, 5].entries()) {
      const entries = Array.from({ length: count }, () => entry(seq++));
      const header: BatchHeader = {
        v: 1,
        tenant: batchTenant,
        batch: b,
        firstSeq: entries[0]!.seq,
        count,
        time: '2025-01-31T12:00:00.000Z',
        entriesRoot: toBase64(batchRoot(hasher, entries)),
      };
      batches.push({ header, entries });
      const result = await appendLeaves(hasher, tenantStore, size, [
        hasher.leafHash(encodeBatchLeaf(header)),
      ]);
      tenantStore.writeNodes(result.nodes);
      ({ size, root } = result);
    }
    const tenantText = formatCheckpoint({ origin, size, root, extensions: [] });
    const tenantNote = await signNote(tenantText, [tenantSigner]);

    const platformStore = new MemoryHashStore();
    const platformLeaves = ['a\n1\n', 'b\n2\n', tenantText].map((t) => hasher.leafHash(utf8(t)));
    const platform = await appendLeaves(hasher, platformStore, 0, platformLeaves);
    platformStore.writeNodes(platform.nodes);
    const platformText = formatCheckpoint({
      origin: PLATFORM,
      size: 3,
      root: platform.root,
      extensions: [],
    });
    const platformNote = await signNote(platformText, platformSigners, {
      timestamp: 1_700_000_000,
    });

    return async (s: number): Promise<RecordProof> => {
      const { header, entries } = batches.find(
        (b) => s >= b.header.firstSeq && s < b.header.firstSeq + b.header.count,
      )!;
      const entryStore = new MemoryHashStore();
      const built = await appendLeaves(
        hasher,
        entryStore,
        0,
        entries.map((e) => entryHash(hasher, e)),
      );
      entryStore.writeNodes(built.nodes);
      const b64 = (hashes: Uint8Array[]) => hashes.map(toBase64);
      return {
        entry: entries[s - header.firstSeq]!,
        batch: header,
        entryProof: b64(
          await inclusionProof(hasher, entryStore, s - header.firstSeq, header.count),
        ),
        logProof: b64(await inclusionProof(hasher, tenantStore, header.batch, size)),
        checkpoint: tenantNote,
        platform: {
          index: 2,
          proof: b64(await inclusionProof(hasher, platformStore, 2, 3)),
          checkpoint: platformNote,
        },
      };
    };
  }
  const seq = 9;
  const proofFor = await ledger();

  it('verifies every entry through batch, tenant log and platform log', async () => {
    for (let s = 0; s < seq; s++) {
      const verified = await verifyRecordProof(hasher, await proofFor(s), keys);
      assert.equal(verified.entry.seq, s);
      assert.equal(verified.checkpoint.size, 3);
      assert.equal(verified.platformCheckpoint?.size, 3);
    }
  });

  it('accepts a tenant signature alone, or a platform anchor alone', async () => {
    const { platform: _, ...tenantOnly } = await proofFor(4);
    await verifyRecordProof(hasher, tenantOnly, { tenant: keys.tenant });
    await verifyRecordProof(hasher, await proofFor(4), { platform: keys.platform });
  });

  it('rejects tampering at every step', async () => {
    const p = await proofFor(5);
    const cases: [RecordProof, object, LedgerErrorCode][] = [
      [{ ...p, entry: { ...p.entry, actor: 'user:mallory' } }, keys, 'LEDGER_INVALID_PROOF'],
      [{ ...p, entry: { ...p.entry, seq: 99 } }, keys, 'LEDGER_INVALID_PROOF'],
      [
        { ...p, batch: { ...p.batch, time: '2025-01-31T12:00:00.001Z' } },
        keys,
        'LEDGER_INVALID_PROOF',
      ],
      [{ ...p, entryProof: p.entryProof.slice(1) }, keys, 'LEDGER_INVALID_PROOF'],
      [{ ...p, logProof: ['!'] }, keys, 'LEDGER_INVALID_PROOF'],
      [{ ...p, checkpoint: p.checkpoint.replace('\n3\n', '\n4\n') }, keys, 'LEDGER_BAD_SIGNATURE'],
      [{ ...p, platform: { ...p.platform!, index: 1 } }, keys, 'LEDGER_INVALID_PROOF'],
      [p, { tenant: keys.tenant }, 'LEDGER_UNKNOWN_KEY'],
      [{ ...p, platform: undefined }, {}, 'LEDGER_UNKNOWN_KEY'],
    ];
    for (const [i, [proof, k, want]] of cases.entries()) {
      await assert.rejects(verifyRecordProof(hasher, proof, k), failsWith(want), `case ${i}`);
    }
  });

  it('requires a signature from every trusted platform key', async () => {
    const p = await proofFor(0);
    // The ML-DSA-44 line is the last one: without it only the Ed25519 line remains.
    const edOnly = p.platform!.checkpoint.replace(/\u2014 [^\n]*\n$/, '');
    assert.notEqual(edOnly, p.platform!.checkpoint);
    await assert.rejects(
      verifyRecordProof(hasher, { ...p, platform: { ...p.platform!, checkpoint: edOnly } }, keys),
      failsWith('LEDGER_UNKNOWN_KEY'),
    );
  });

  it('checks the ML-DSA-44 line of the platform checkpoint when that key is trusted', async () => {
    const p = await proofFor(0);
    const verified = await verifyRecordProof(hasher, p, { platform: [keys.platform[1]!] });
    assert.equal(verified.platformCheckpoint?.origin, PLATFORM);
  });

  it("refuses a batch of another tenant than the one the checkpoint's log belongs to", async () => {
    // Every hash and signature holds: only the batch header names t2 in the log of t1.
    const alien = await (await ledger('t2'))(4);
    const { platform: _, ...tenantOnly } = alien;
    const cases: [RecordProof, object][] = [
      [alien, keys],
      [alien, { platform: keys.platform }],
      [tenantOnly, { tenant: keys.tenant }],
    ];
    for (const [proof, k] of cases) {
      await assert.rejects(
        verifyRecordProof(hasher, proof, k),
        (e) =>
          isLedgerError(e, 'LEDGER_TAMPERED') &&
          e.message === `batch 2 belongs to tenant t2, but the checkpoint is of ${TENANT}`,
      );
    }
  });

  it('refuses a tenant checkpoint of another platform than the one that anchors it', async () => {
    const foreign = await (await ledger('t1', 'other.example/tenant/t1'))(0);
    await assert.rejects(
      verifyRecordProof(hasher, foreign, keys),
      (e) =>
        isLedgerError(e, 'LEDGER_TAMPERED') &&
        e.message.includes(`other.example/tenant/t1, not a tenant log of ${PLATFORM}`),
    );
  });
});
