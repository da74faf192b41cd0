import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  appendLeaves,
  consistencyProof,
  cosignatureTimestamp,
  formatAddCheckpointRequest,
  formatCheckpoint,
  fromBase64,
  isLedgerError,
  type LedgerErrorCode,
  MemoryHashStore,
  openNote,
  parseAddCheckpointRequest,
  parseVerifierKey,
  signNote,
  toBase64,
  type WitnessRecord,
  witnessAddCheckpoint,
} from '../src/index.ts';
import {
  ed25519CosignatureSigner,
  ed25519Signer,
  generateEd25519Key,
  generateMlDsa44Key,
  nodeHasher as hasher,
  mldsa44Signer,
  nodeVerifyProvider as provider,
} from '../src/node/index.ts';

const code = (want: LedgerErrorCode, size?: number) => (e: unknown) =>
  isLedgerError(e, want) && (size === undefined || e.size === size);

const ORIGIN = 'palisade.example/platform';
const logEd = generateEd25519Key(ORIGIN);
const logPq = generateMlDsa44Key(ORIGIN);
const logSigners = [
  ed25519Signer(ORIGIN, logEd.privateKey),
  mldsa44Signer(ORIGIN, logPq.privateKey),
];
const witnessEd = generateEd25519Key('witness.example/w1', 0x04);
const witnessPq = generateMlDsa44Key('witness.example/w1');
const witnessSigners = [
  ed25519CosignatureSigner('witness.example/w1', witnessEd.privateKey),
  mldsa44Signer('witness.example/w1', witnessPq.privateKey),
];
const witnessVerifiers = [witnessEd.vkey, witnessPq.vkey].map((k) => parseVerifierKey(k, provider));
const NOW = 1_750_000_000_000;
const options = {
  hasher,
  logs: [{ origin: ORIGIN, verifiers: [parseVerifierKey(logEd.vkey, provider)] }],
  witnessSigners,
  now: () => NOW,
};

const store = new MemoryHashStore();
const leaves = Array.from({ length: 40 }, (_, i) => hasher.leafHash(new Uint8Array([i])));
store.writeNodes((await appendLeaves(hasher, store, 0, leaves)).nodes);

async function checkpointAt(
  size: number,
  signers = logSigners,
  origin = ORIGIN,
): Promise<{ note: string; root: Uint8Array }> {
  const { root } = await appendLeaves(hasher, new MemoryHashStore(), 0, leaves.slice(0, size));
  return {
    note: await signNote(formatCheckpoint({ origin, size, root, extensions: [] }), signers),
    root,
  };
}

async function request(oldSize: number, size: number, proofFrom = oldSize): Promise<string> {
  const proof = proofFrom === 0 ? [] : await consistencyProof(hasher, store, proofFrom, size);
  return formatAddCheckpointRequest({
    oldSize,
    proof,
    checkpoint: (await checkpointAt(size)).note,
  });
}

/** Flips the last byte of the first signature line's signature. */
function corruptFirstSignature(note: string): string {
  const start = note.lastIndexOf('\n\n') + 2;
  const end = note.indexOf('\n', start);
  const [dash, name, b64] = note.slice(start, end).split(' ') as [string, string, string];
  const bytes = fromBase64(b64)!;
  bytes[bytes.length - 1]! ^= 1;
  return `${note.slice(0, start)}${dash} ${name} ${toBase64(bytes)}${note.slice(end)}`;
}

describe('tlog-witness add-checkpoint', () => {
  it('parses and formats the request body (spec example shape)', async () => {
    const body = await request(10, 25);
    assert.match(body, /^old 10\n([A-Za-z0-9+/]{43}=\n)+\npalisade\.example\/platform\n25\n/);
    const parsed = parseAddCheckpointRequest(body);
    assert.equal(parsed.oldSize, 10);
    assert.equal(formatAddCheckpointRequest(parsed), body);
    for (const bad of [
      '',
      'old 01\n\n',
      'old x\n\n',
      'new 1\n\n',
      'old 1\nAAAA\n\n',
      'old 1\n',
      `old 1\n${'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n'.repeat(64)}\n`,
    ]) {
      assert.throws(
        () => parseAddCheckpointRequest(bad),
        code('LEDGER_BAD_REQUEST'),
        JSON.stringify(bad),
      );
    }
  });

  it('cosigns a first checkpoint (old 0) and then a consistent extension', async () => {
    const first = await witnessAddCheckpoint(new Map(), await request(0, 10), options);
    assert.deepEqual(first.record.size, 10);
    assert.equal(first.previous, undefined);
    const lines = first.cosignatures.split('\n').filter(Boolean);
    assert.equal(lines.length, 2);
    const cosigned = `${first.checkpoint.origin}\n10\n${toBase64(first.record.root)}\n\n${first.cosignatures}`;
    const opened = await openNote(cosigned, witnessVerifiers);
    assert.equal(opened.verified.length, 2);
    assert.ok(opened.verified.every((s) => cosignatureTimestamp(s.signature) === NOW / 1000));

    const second = await witnessAddCheckpoint(first.state, await request(10, 37), options);
    assert.equal(second.record.size, 37);
    assert.equal(second.previous?.size, 10);
    // Re-submitting the same checkpoint is accepted and cosigned again.
    await witnessAddCheckpoint(second.state, await request(37, 37), options);
  });

  it('answers a stale old size with a conflict carrying the recorded size (409)', async () => {
    const { state } = await witnessAddCheckpoint(new Map(), await request(0, 20), options);
    await assert.rejects(
      witnessAddCheckpoint(state, await request(10, 30), options),
      code('LEDGER_CONFLICT', 20),
    );
    await assert.rejects(
      witnessAddCheckpoint(state, await request(0, 30), options),
      code('LEDGER_CONFLICT', 20),
    );
    await assert.rejects(
      witnessAddCheckpoint(new Map(), await request(5, 30), options),
      code('LEDGER_CONFLICT', 0),
    );
  });

  it('refuses a fork: another root at the recorded size', async () => {
    const state = new Map<string, WitnessRecord>([
      [ORIGIN, { size: 20, root: new Uint8Array(32) }],
    ]);
    await assert.rejects(
      witnessAddCheckpoint(state, await request(20, 20), options),
      code('LEDGER_FORK', 20),
    );
    await assert.rejects(
      witnessAddCheckpoint(state, await request(20, 30), options),
      code('LEDGER_INVALID_PROOF'),
    );
  });

  it('rejects bad proofs (422), bad sizes (400), unknown logs (404) and bad signatures (403)', async () => {
    const { state } = await witnessAddCheckpoint(new Map(), await request(0, 20), options);
    const body = async (oldSize: number, note: string, proof: Uint8Array[] = []) =>
      formatAddCheckpointRequest({ oldSize, proof, checkpoint: note });
    const cases: [string, LedgerErrorCode][] = [
      [await request(20, 30, 21), 'LEDGER_INVALID_PROOF'],
      [await body(30, (await checkpointAt(20)).note), 'LEDGER_BAD_REQUEST'],
      [
        await body(0, (await checkpointAt(5, logSigners, 'other.example/log')).note),
        'LEDGER_UNKNOWN_LOG',
      ],
      [await body(0, (await checkpointAt(5, [logSigners[1]!])).note), 'LEDGER_UNKNOWN_KEY'],
      [
        await body(20, corruptFirstSignature((await checkpointAt(20)).note)),
        'LEDGER_BAD_SIGNATURE',
      ],
      ['old 0\n\nnot a note\n', 'LEDGER_BAD_NOTE'],
    ];
    for (const [i, [text, want]] of cases.entries()) {
      await assert.rejects(witnessAddCheckpoint(state, text, options), code(want), `case ${i}`);
    }
    // old 0 requires an empty proof.
    const nonEmpty = await body(0, (await checkpointAt(5)).note, [new Uint8Array(32)]);
    await assert.rejects(
      witnessAddCheckpoint(new Map(), nonEmpty, options),
      code('LEDGER_INVALID_PROOF'),
    );
  });

  it('requires a signature from every key it trusts for the log (403)', async () => {
    const hybrid = {
      ...options,
      logs: [
        {
          origin: ORIGIN,
          verifiers: [logEd.vkey, logPq.vkey].map((k) => parseVerifierKey(k, provider)),
        },
      ],
    };
    const body = async (signers: typeof logSigners) =>
      formatAddCheckpointRequest({
        oldSize: 0,
        proof: [],
        checkpoint: (await checkpointAt(5, signers)).note,
      });
    for (const signers of [[logSigners[0]!], [logSigners[1]!]]) {
      await assert.rejects(
        witnessAddCheckpoint(new Map(), await body(signers), hybrid),
        code('LEDGER_UNKNOWN_KEY'),
      );
    }
    const cosigned = await witnessAddCheckpoint(new Map(), await body(logSigners), hybrid);
    assert.equal(cosigned.record.size, 5);
  });
});
