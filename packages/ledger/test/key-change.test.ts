/**
 * Following a replacement of the platform's lost signing key with only the old key trusted,
 * on real RFC 9162 trees: the old key's last checkpoint, a checkpoint of the new key and the
 * consistency proof between them. Forged changes are refused with their own codes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  appendLeaves,
  consistencyProof,
  followKeyChanges,
  formatCheckpoint,
  isLedgerError,
  type KeyChange,
  type LedgerErrorCode,
  MemoryHashStore,
  type NoteSigner,
  type NoteVerifier,
  parseVerifierKey,
  signNote,
  treeRoot,
  utf8,
  verifyKeyChange,
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

const ORIGIN = 'palisade.example/a1b2';
const AT = '2026-02-01T09:30:00.000Z';
const code = (want: LedgerErrorCode) => (e: unknown) => {
  assert.ok(isLedgerError(e), String(e));
  assert.equal(e.code, want, e.message);
  return true;
};

/** A hybrid platform key as the server makes one: Ed25519 and ML-DSA-44, named after its origin. */
function platformKey(origin = ORIGIN) {
  const ed = generateEd25519Key(origin);
  const pq = generateMlDsa44Key(origin);
  const vkeys = [ed.vkey, pq.vkey];
  return {
    vkeys,
    verifiers: vkeys.map((vkey) => parseVerifierKey(vkey, provider)),
    signers: [ed25519Signer(origin, ed.privateKey), mldsa44Signer(origin, pq.privateKey)],
  };
}
type PlatformKey = ReturnType<typeof platformKey>;

/** A platform log whose leaf i is `<prefix>i`, grown on demand. */
class Log {
  readonly store = new MemoryHashStore();
  readonly prefix: string;
  size = 0;
  constructor(prefix: string) {
    this.prefix = prefix;
  }

  async grow(size: number): Promise<void> {
    const leaves = [];
    for (let i = this.size; i < size; i++) leaves.push(hasher.leafHash(utf8(`${this.prefix}${i}`)));
    const { nodes } = await appendLeaves(hasher, this.store, this.size, leaves);
    this.store.writeNodes(nodes);
    this.size = size;
  }

  /** The checkpoint at `size`, signed by `signers`. */
  async checkpoint(size: number, signers: readonly NoteSigner[], origin = ORIGIN) {
    if (size > this.size) await this.grow(size);
    const root = await treeRoot(hasher, this.store, size);
    return signNote(formatCheckpoint({ origin, size, root, extensions: [] }), signers);
  }

  async proof(from: number, to: number): Promise<Uint8Array[]> {
    if (to > this.size) await this.grow(to);
    return consistencyProof(hasher, this.store, from, to);
  }
}

const ids = (keys: readonly NoteVerifier[]) => keys.map((k) => `${k.name}+${k.keyId}`);

const change = (previousNote: string, next: PlatformKey): KeyChange => ({
  previousNote,
  vkeys: next.vkeys,
  at: AT,
});

describe('verifyKeyChange', () => {
  const old = platformKey();
  const next = platformKey();

  it('follows a change whose new log extends the old key last checkpoint', async () => {
    const log = new Log('leaf ');
    const previous = await log.checkpoint(5, old.signers);
    const after = await log.checkpoint(9, next.signers);
    const accepted = await verifyKeyChange(
      hasher,
      provider,
      old.verifiers,
      change(previous, next),
      after,
      await log.proof(5, 9),
    );
    assert.equal(accepted.origin, ORIGIN);
    assert.equal(accepted.previous.size, 5);
    assert.equal(accepted.checkpoint.size, 9);
    assert.deepEqual(accepted.newVkeys, next.vkeys);
    assert.deepEqual(
      accepted.oldKeys,
      old.verifiers.map((k) => `${k.name}+${k.keyId.toString(16).padStart(8, '0')}`),
    );
    assert.deepEqual(ids(accepted.verifiers), ids(next.verifiers));
    assert.equal(accepted.at, AT);
  });

  it('keeps the trusted witnesses and requires the new key on the checkpoint after', async () => {
    const w = generateEd25519Key('witness.example/w1', 0x04);
    const witness = parseVerifierKey(w.vkey, provider);
    const cosigner = ed25519CosignatureSigner('witness.example/w1', w.privateKey);
    const log = new Log('leaf ');
    const previous = await log.checkpoint(3, old.signers);
    const after = await log.checkpoint(4, [...next.signers, cosigner]);
    const accepted = await verifyKeyChange(
      hasher,
      provider,
      [...old.verifiers, witness],
      change(previous, next),
      after,
      await log.proof(3, 4),
    );
    assert.deepEqual(ids(accepted.verifiers), ids([...next.verifiers, witness]));

    // Signed by the old key only (or by the Ed25519 half of the new key): not the change's key.
    const byOld = await log.checkpoint(4, old.signers);
    await assert.rejects(
      verifyKeyChange(hasher, provider, old.verifiers, change(previous, next), byOld, []),
      code('LEDGER_KEY_CHANGE_UNSIGNED'),
    );
    const halfSigned = await log.checkpoint(4, [next.signers[0]!]);
    await assert.rejects(
      verifyKeyChange(
        hasher,
        provider,
        old.verifiers,
        change(previous, next),
        halfSigned,
        await log.proof(3, 4),
      ),
      code('LEDGER_KEY_CHANGE_UNSIGNED'),
    );
  });

  it('refuses a change whose previous checkpoint the trusted key did not sign', async () => {
    const log = new Log('leaf ');
    const forger = platformKey();
    const forged = await log.checkpoint(5, forger.signers);
    const after = await log.checkpoint(9, next.signers);
    const proof = await log.proof(5, 9);
    await assert.rejects(
      verifyKeyChange(hasher, provider, old.verifiers, change(forged, next), after, proof),
      code('LEDGER_KEY_CHANGE_UNSIGNED'),
    );
    // Nor one that carries the old key's Ed25519 line with its ML-DSA-44 line stripped.
    const edOnly = await log.checkpoint(5, [old.signers[0]!]);
    await assert.rejects(
      verifyKeyChange(hasher, provider, old.verifiers, change(edOnly, next), after, proof),
      code('LEDGER_KEY_CHANGE_UNSIGNED'),
    );
  });

  it('refuses a new log that does not extend the old root', async () => {
    const history = new Log('leaf ');
    const previous = await history.checkpoint(5, old.signers);
    // Same first four leaves, a different fifth: history rewritten under the new key.
    const rewritten = new Log('leaf ');
    await rewritten.grow(4);
    const { nodes } = await appendLeaves(hasher, rewritten.store, 4, [
      hasher.leafHash(utf8('rewritten')),
    ]);
    rewritten.store.writeNodes(nodes);
    rewritten.size = 5;
    const after = await rewritten.checkpoint(9, next.signers);
    await assert.rejects(
      verifyKeyChange(
        hasher,
        provider,
        old.verifiers,
        change(previous, next),
        after,
        await rewritten.proof(5, 9),
      ),
      code('LEDGER_KEY_CHANGE_FORK'),
    );
    // A proof of the real history does not lead to the rewritten root either.
    await assert.rejects(
      verifyKeyChange(
        hasher,
        provider,
        old.verifiers,
        change(previous, next),
        after,
        await history.proof(5, 9),
      ),
      code('LEDGER_KEY_CHANGE_FORK'),
    );
    // A smaller log, or the same size with another root.
    const smaller = await rewritten.checkpoint(4, next.signers);
    await assert.rejects(
      verifyKeyChange(hasher, provider, old.verifiers, change(previous, next), smaller, []),
      code('LEDGER_KEY_CHANGE_FORK'),
    );
    const sameSize = await rewritten.checkpoint(5, next.signers);
    await assert.rejects(
      verifyKeyChange(hasher, provider, old.verifiers, change(previous, next), sameSize, []),
      code('LEDGER_KEY_CHANGE_FORK'),
    );
  });

  it('refuses another origin: of the new keys, of the checkpoint after, of the change', async () => {
    const log = new Log('leaf ');
    const previous = await log.checkpoint(5, old.signers);
    const proof = await log.proof(5, 9);
    const elsewhere = platformKey('evil.example/ffff');
    const after = await log.checkpoint(9, next.signers);
    await assert.rejects(
      verifyKeyChange(hasher, provider, old.verifiers, change(previous, elsewhere), after, proof),
      code('LEDGER_KEY_CHANGE_ORIGIN'),
    );
    const afterElsewhere = await log.checkpoint(9, elsewhere.signers, 'evil.example/ffff');
    await assert.rejects(
      verifyKeyChange(
        hasher,
        provider,
        old.verifiers,
        { ...change(previous, next), vkeys: next.vkeys },
        afterElsewhere,
        proof,
      ),
      code('LEDGER_KEY_CHANGE_ORIGIN'),
    );
    const otherLog = await log.checkpoint(5, elsewhere.signers, 'evil.example/ffff');
    await assert.rejects(
      verifyKeyChange(
        hasher,
        provider,
        old.verifiers,
        change(otherLog, elsewhere),
        afterElsewhere,
        proof,
      ),
      code('LEDGER_KEY_CHANGE_ORIGIN'),
    );
  });
});

describe('followKeyChanges', () => {
  const k0 = platformKey();
  const k1 = platformKey();
  const k2 = platformKey();
  const step = async (
    log: Log,
    previousNote: string,
    key: PlatformKey,
    from: number,
    to: number,
  ) => ({
    change: change(previousNote, key),
    proof: await log.proof(from, to),
  });

  it('follows nothing when the trusted key signed the checkpoint', async () => {
    const log = new Log('leaf ');
    const cp = await log.checkpoint(3, k0.signers);
    assert.deepEqual(await followKeyChanges(hasher, provider, k0.verifiers, [], cp), []);
  });

  it('follows two changes in turn, from the key trusted to the one that signed', async () => {
    const log = new Log('leaf ');
    const p1 = await log.checkpoint(4, k0.signers);
    const p2 = await log.checkpoint(7, k1.signers);
    const cp = await log.checkpoint(12, k2.signers);
    const steps = [await step(log, p1, k1, 4, 7), await step(log, p2, k2, 7, 12)];
    const accepted = await followKeyChanges(hasher, provider, k0.verifiers, steps, cp);
    assert.deepEqual(
      accepted.map((a) => [a.previous.size, a.checkpoint.size, a.newVkeys]),
      [
        [4, 7, k1.vkeys],
        [7, 12, k2.vkeys],
      ],
    );
    // An auditor who already follows k1 starts from the change k1's checkpoint begins.
    const fromK1 = await followKeyChanges(hasher, provider, k1.verifiers, steps, cp);
    assert.deepEqual(
      fromK1.map((a) => a.newVkeys),
      [k2.vkeys],
    );
  });

  it('passes over a key replaced again before it signed anything', async () => {
    const log = new Log('leaf ');
    const p = await log.checkpoint(4, k0.signers);
    const cp = await log.checkpoint(6, k2.signers);
    const steps = [await step(log, p, k1, 4, 4), await step(log, p, k2, 4, 6)];
    const accepted = await followKeyChanges(hasher, provider, k0.verifiers, steps, cp);
    assert.deepEqual(
      accepted.map((a) => a.newVkeys),
      [k2.vkeys],
    );
  });

  it('names why a forged change is refused, or that none starts from the trusted key', async () => {
    const log = new Log('leaf ');
    const forged = await log.checkpoint(4, k1.signers);
    const cp = await log.checkpoint(6, k2.signers);
    await assert.rejects(
      followKeyChanges(hasher, provider, k0.verifiers, [await step(log, forged, k2, 4, 6)], cp),
      code('LEDGER_KEY_CHANGE_UNSIGNED'),
    );
    await assert.rejects(
      followKeyChanges(hasher, provider, k0.verifiers, [], cp),
      code('LEDGER_KEY_CHANGE_UNSIGNED'),
    );
    // The second change starts from a checkpoint k1 never signed: the chain breaks there.
    const p1 = await log.checkpoint(4, k0.signers);
    const notByK1 = await log.checkpoint(5, platformKey().signers);
    const steps = [await step(log, p1, k1, 4, 5), await step(log, notByK1, k2, 5, 6)];
    await assert.rejects(
      followKeyChanges(hasher, provider, k0.verifiers, steps, cp),
      code('LEDGER_KEY_CHANGE_UNSIGNED'),
    );
  });
});
