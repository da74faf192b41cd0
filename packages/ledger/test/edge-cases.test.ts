import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  appendLeaves,
  consistencyProof,
  createVerifier,
  formatCheckpoint,
  fromBase64,
  fromBase64Url,
  fromHex,
  inclusionProof,
  MemoryHashStore,
  MerkleLog,
  mldsa44CosignatureMessage,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  rootFromConsistencyProof,
  rootFromInclusionProof,
  signNote,
  toBase64,
  toBase64Url,
  treeRoot,
  utf8,
  verifyConsistency,
} from '../src/index.ts';
import { bitLength, onesCount, shiftRight, trailingZeros, xor } from '../src/merkle/bits.ts';
import {
  ed25519CosignatureSigner,
  ed25519PrivateKeyFromSeed,
  ed25519Signer,
  generateMlDsa44Key,
  nodeHasher as hasher,
  mldsa44PrivateKeyFromSeed,
  mldsa44Signer,
  nodeVerifyProvider as provider,
} from '../src/node/index.ts';
import { failsWith } from './support.ts';

const h32 = new Uint8Array(32);

describe('bit helpers match BigInt arithmetic up to 2^53', () => {
  it('bitLength, onesCount, trailingZeros, xor, shiftRight', () => {
    const safe = fc.oneof(fc.integer({ min: 0, max: 2 ** 32 }), fc.maxSafeNat());
    fc.assert(
      fc.property(safe, safe, fc.integer({ min: 0, max: 60 }), (a, b, n) => {
        const A = BigInt(a);
        assert.equal(bitLength(a), A.toString(2).replace(/^0+/, '').length);
        assert.equal(onesCount(a), [...A.toString(2)].filter((c) => c === '1').length);
        if (a > 0)
          assert.equal(trailingZeros(a), A.toString(2).length - A.toString(2).lastIndexOf('1') - 1);
        assert.equal(BigInt(xor(a, b)), A ^ BigInt(b));
        assert.equal(BigInt(shiftRight(a, n)), A >> BigInt(n));
      }),
    );
    assert.equal(trailingZeros(0), 64);
    assert.equal(trailingZeros(2 ** 40), 40);
  });
});

describe('proof argument validation', () => {
  it('rejects non-safe sizes and indices in verification', () => {
    assert.throws(
      () => rootFromInclusionProof(hasher, h32, 0.5, 2, []),
      failsWith('LEDGER_INVALID_PROOF'),
    );
    assert.throws(
      () => rootFromConsistencyProof(hasher, 1, 2 ** 53, [h32], h32),
      failsWith('LEDGER_INVALID_PROOF'),
    );
    assert.throws(
      () => rootFromConsistencyProof(hasher, 1, 2, [new Uint8Array(31)], h32),
      failsWith('LEDGER_INVALID_PROOF'),
    );
    assert.throws(
      () => verifyConsistency(hasher, 3, 4, [h32, h32], h32, h32),
      failsWith('LEDGER_INVALID_PROOF'),
    );
  });

  it('rejects bad arguments and short readers in the log functions', async () => {
    const store = new MemoryHashStore();
    const leaves = [1, 2, 3].map((i) => hasher.leafHash(new Uint8Array([i])));
    store.writeNodes((await appendLeaves(hasher, store, 0, leaves)).nodes);
    const log = new MerkleLog(hasher, store);
    assert.equal((await log.inclusionProof(1, 3)).length, 2);
    assert.equal((await log.consistencyProof(1, 3)).length, 2);
    assert.deepEqual(await log.consistencyProof(0, 3), []);
    await assert.rejects(
      inclusionProof(hasher, store, -1, 3),
      failsWith('LEDGER_INVALID_ARGUMENT'),
    );
    await assert.rejects(inclusionProof(hasher, store, 3, 3), failsWith('LEDGER_INVALID_ARGUMENT'));
    await assert.rejects(
      consistencyProof(hasher, store, 4, 3),
      failsWith('LEDGER_INVALID_ARGUMENT'),
    );
    await assert.rejects(treeRoot(hasher, store, 4), failsWith('LEDGER_MISSING_NODE'));
    await assert.rejects(
      appendLeaves(hasher, store, 3, [new Uint8Array(31)]),
      failsWith('LEDGER_INVALID_ARGUMENT'),
    );
    await assert.rejects(
      appendLeaves(hasher, store, 2 ** 53, [h32]),
      failsWith('LEDGER_INVALID_ARGUMENT'),
    );
    const short = { readNodes: async () => [] as Uint8Array[] };
    await assert.rejects(treeRoot(hasher, short, 3), failsWith('LEDGER_MISSING_NODE'));
    assert.throws(
      () => store.writeNodes([{ level: 0, index: 0, hash: new Uint8Array(3) }]),
      failsWith('LEDGER_INVALID_ARGUMENT'),
    );
    assert.deepEqual(await treeRoot(hasher, store, 0), hasher.emptyRoot());
    assert.deepEqual((await appendLeaves(hasher, store, 0, [])).root, hasher.emptyRoot());
  });
});

describe('encodings', () => {
  it('base64 and hex are strict', () => {
    for (const bytes of [[], [1], [1, 2], [1, 2, 3], [255, 254, 253, 252]].map(
      (b) => new Uint8Array(b),
    )) {
      assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
      assert.deepEqual(fromBase64Url(toBase64Url(bytes)), bytes);
    }
    for (const bad of ['A', 'AB', 'AB=', 'AB==A===', 'AB=A', 'AR==', '\u00e9AAA', '-_==']) {
      assert.equal(fromBase64(bad), undefined, bad);
    }
    assert.equal(fromBase64Url('AB=='), undefined);
    assert.equal(fromBase64Url('A'), undefined);
    assert.equal(fromHex('abc'), undefined);
    assert.equal(fromHex('zz'), undefined);
  });
});

describe('checkpoints', () => {
  it('parses and formats, rejecting malformed text', () => {
    const text = `example.com/log\n5\n${toBase64(h32)}\next one\n`;
    const parsed = parseCheckpoint(text);
    assert.deepEqual(parsed.extensions, ['ext one']);
    assert.equal(formatCheckpoint(parsed), text);
    for (const bad of [
      'example.com/log\n5\n',
      `example.com/log\n5\n${toBase64(h32)}`,
      `\n5\n${toBase64(h32)}\n`,
      `o\n05\n${toBase64(h32)}\n`,
      `o\n9007199254740992\n${toBase64(h32)}\n`,
      'o\n5\nAAAA\n',
      `o\n5\n${toBase64(h32)}\n\n`,
    ]) {
      assert.throws(
        () => parseCheckpoint(bad),
        failsWith('LEDGER_BAD_CHECKPOINT'),
        JSON.stringify(bad),
      );
    }
    const good = { origin: 'o', size: 1, root: h32, extensions: [] };
    for (const bad of [
      { origin: 'a\nb' },
      { size: -1 },
      { root: new Uint8Array(1) },
      { extensions: [''] },
    ]) {
      assert.throws(
        () => formatCheckpoint({ ...good, ...bad }),
        failsWith('LEDGER_BAD_CHECKPOINT'),
      );
    }
  });
});

describe('signers and verifiers', () => {
  it('round-trips ML-DSA-44 cosignatures from a seed and checks names and key types', async () => {
    const key = mldsa44PrivateKeyFromSeed(new Uint8Array(32).fill(1));
    const signer = mldsa44Signer('log.example', key);
    const pq = generateMlDsa44Key('log.example');
    const text = formatCheckpoint({ origin: 'log.example', size: 1, root: h32, extensions: [] });
    const note = await signNote(text, [signer], { timestamp: 0 });
    const raw = fromBase64(note.trim().split(' ').pop()!)!;
    assert.equal(raw.length, 4 + 8 + 2420);
    await assert.rejects(
      signNote('not a checkpoint\n', [signer]),
      failsWith('LEDGER_BAD_CHECKPOINT'),
    );
    await assert.rejects(
      openNote(note, [parseVerifierKey(pq.vkey, provider)]),
      failsWith('LEDGER_UNKNOWN_KEY'),
    );
    assert.equal(mldsa44CosignatureMessage('x'.repeat(256), 0n, utf8(text)), undefined);
    assert.equal(mldsa44CosignatureMessage('x', 0n, utf8('nope\n')), undefined);
    const ed = generateKeyPairSync('ed25519').privateKey;
    assert.throws(() => mldsa44Signer('n', ed), failsWith('LEDGER_BAD_KEY'));
    assert.throws(() => ed25519Signer('n', key), failsWith('LEDGER_BAD_KEY'));
    assert.throws(() => ed25519PrivateKeyFromSeed(new Uint8Array(31)), failsWith('LEDGER_BAD_KEY'));
    assert.throws(() => mldsa44PrivateKeyFromSeed(new Uint8Array(31)), failsWith('LEDGER_BAD_KEY'));
    await assert.rejects(
      signNote(text, [ed25519Signer('bad name', ed)]),
      failsWith('LEDGER_BAD_KEY'),
    );
    await assert.rejects(
      signNote('no newline', [ed25519Signer('n', ed)]),
      failsWith('LEDGER_BAD_NOTE'),
    );
    await assert.rejects(signNote(text, []), failsWith('LEDGER_INVALID_ARGUMENT'));
  });

  it('verifies an Ed25519 cosignature and rejects wrong-length signatures', async () => {
    const key = ed25519PrivateKeyFromSeed(new Uint8Array(32).fill(2));
    const cosigner = ed25519CosignatureSigner('w.example', key);
    const text = formatCheckpoint({ origin: 'log.example', size: 1, root: h32, extensions: [] });
    const note = await signNote(text, [cosigner], { timestamp: 1234 });
    const pub = new Uint8Array(
      (await import('node:crypto')).createPublicKey(key).export({ format: 'raw-public' }),
    );
    const verifier = createVerifier(provider, 'w.example', 0x04, pub);
    await openNote(note, [verifier]);
    assert.equal(await verifier.verify(utf8(text), new Uint8Array(10)), false);
    const plain = createVerifier(provider, 'w.example', 0x01, pub);
    assert.equal(await plain.verify(utf8(text), new Uint8Array(10)), false);
    assert.throws(() => createVerifier(provider, 'a+b', 0x01, pub), failsWith('LEDGER_BAD_KEY'));
    assert.throws(() => createVerifier(provider, 'a', 0x06, pub), failsWith('LEDGER_BAD_KEY'));
    // A verifier that throws counts as a failed signature.
    const throwing = {
      ...provider,
      ed25519: () => () => {
        throw new Error('boom');
      },
    };
    await assert.rejects(
      openNote(note, [createVerifier(throwing, 'w.example', 0x04, pub)]),
      failsWith('LEDGER_BAD_SIGNATURE'),
    );
  });
});
