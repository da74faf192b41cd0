/**
 * The DPoP replay memory forgets a proof only once its acceptance window has ended: full of
 * proofs still within theirs, it refuses new proofs (and counts them) rather than forget one
 * that could then be replayed; one tenant filling its share leaves the others theirs. Two
 * processes' memories over one store refuse each other's proofs, and the sweep deletes the
 * ended ones in bounded statements. Small bounds and a moved clock, no waiting; the stores
 * are real, on both backends.
 */
import assert from 'node:assert/strict';
import { hash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { DpopProofs } from '../src/identity/dpop-proof.ts';
import { DpopProofSweep } from '../src/identity/index.ts';
import { openStores, type Stores } from '../src/store/index.ts';
import { type BackendFixture, backendNames, openBackend } from './support/backends.ts';
import { dpopProofRows } from './support/dpop-proof-rows.ts';

const TOKEN = 'an.access.token';
const TENANT_A = '01900000-0000-7000-8000-00000000000a';
const TENANT_B = '01900000-0000-7000-8000-00000000000b';
const TARGET = { method: 'GET', url: 'https://api.example.com/v1/collections' };
/** A proof's window: 60 s after its `iat`, and 5 s of clock skew. */
const WINDOW_MS = 65_000;

async function holder() {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA');
  const jwk = await exportJWK(publicKey);
  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  /** A new proof for TARGET and TOKEN, made at `now` (epoch ms). */
  const proof = (now: number) =>
    new SignJWT({
      htm: TARGET.method,
      htu: TARGET.url,
      ath: hash('sha256', TOKEN, 'base64url'),
    })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'dpop+jwt', jwk })
      .setJti(randomUUID())
      .setIssuedAt(Math.floor(now / 1000))
      .sign(privateKey);
  return { jkt, proof };
}

for (const backend of backendNames()) {
  describe(`DPoP proof memory on ${backend}`, () => {
    let fixture: BackendFixture;
    let stores: Stores;
    before(async () => {
      fixture = await openBackend(backend);
      stores = await openStores(fixture.settings);
    });
    after(async () => {
      await stores.close();
      await fixture.cleanup();
    });

    test('a full replay memory refuses new proofs and still knows every live one', async () => {
      let now = Date.now();
      let refused = 0;
      const proofs = new DpopProofs({
        store: stores.controlPlane.dpopProofs,
        max: 2,
        tenantMax: 2,
        clock: () => now,
        refused: () => refused++,
      });
      const { jkt, proof } = await holder();
      const verify = (text: string) => proofs.verify(TENANT_A, text, TOKEN, jkt, TARGET);
      const first = await proof(now);
      const second = await proof(now);
      await verify(first);
      await verify(second);

      await assert.rejects(verify(await proof(now)), { code: 'PALISADE_DPOP_PROOF_MEMORY_FULL' });
      await assert.rejects(verify(await proof(now)), { code: 'PALISADE_DPOP_PROOF_MEMORY_FULL' });
      assert.equal(refused, 2, 'each refusal counted');
      for (const seen of [first, second])
        await assert.rejects(verify(seen), { code: 'PALISADE_DPOP_PROOF_INVALID' }, 'no replay');

      now += WINDOW_MS - 1000;
      await assert.rejects(verify(await proof(now)), { code: 'PALISADE_DPOP_PROOF_MEMORY_FULL' });
      await assert.rejects(
        verify(first),
        { code: 'PALISADE_DPOP_PROOF_INVALID' },
        'still no replay',
      );
      now += 2000;
      await assert.rejects(
        verify(first),
        /too old|timestamp/,
        'past its window it is refused as old',
      );
      const fresh = await proof(now);
      await verify(fresh);
      await verify(await proof(now));
      await assert.rejects(verify(fresh), { code: 'PALISADE_DPOP_PROOF_INVALID' });
      assert.equal(refused, 3);
    });

    test("one tenant's clients filling its share of the memory leave other tenants theirs", async () => {
      const now = Date.now();
      const proofs = new DpopProofs({
        store: stores.controlPlane.dpopProofs,
        max: 10,
        tenantMax: 3,
        clock: () => now,
      });
      const a = await holder();
      const b = await holder();
      for (let i = 0; i < 3; i++)
        await proofs.verify(TENANT_A, await a.proof(now), TOKEN, a.jkt, TARGET);
      await assert.rejects(proofs.verify(TENANT_A, await a.proof(now), TOKEN, a.jkt, TARGET), {
        code: 'PALISADE_DPOP_PROOF_MEMORY_FULL',
      });
      for (let i = 0; i < 3; i++)
        await proofs.verify(TENANT_B, await b.proof(now), TOKEN, b.jkt, TARGET);
      await assert.rejects(proofs.verify(TENANT_B, await b.proof(now), TOKEN, b.jkt, TARGET), {
        code: 'PALISADE_DPOP_PROOF_MEMORY_FULL',
      });
    });

    test("two processes' memories over one store refuse each other's proofs", async () => {
      const now = Date.now();
      // A second opening of the stores, as another process has its own connections.
      const other = await openStores(fixture.settings);
      try {
        const here = new DpopProofs({ store: stores.controlPlane.dpopProofs, clock: () => now });
        const there = new DpopProofs({ store: other.controlPlane.dpopProofs, clock: () => now });
        const { jkt, proof } = await holder();
        const accepted = await proof(now);
        await here.verify(TENANT_A, accepted, TOKEN, jkt, TARGET);
        await assert.rejects(there.verify(TENANT_A, accepted, TOKEN, jkt, TARGET), {
          code: 'PALISADE_DPOP_PROOF_INVALID',
          message: /used before/,
        });
        await there.verify(TENANT_A, await proof(now), TOKEN, jkt, TARGET);
        await here.verify(TENANT_A, await proof(now), TOKEN, jkt, TARGET);
        const racing = await proof(now);
        const outcomes = await Promise.allSettled([
          here.verify(TENANT_A, racing, TOKEN, jkt, TARGET),
          there.verify(TENANT_A, racing, TOKEN, jkt, TARGET),
        ]);
        assert.deepEqual(outcomes.map((outcome) => outcome.status).sort(), [
          'fulfilled',
          'rejected',
        ]);
      } finally {
        await other.close();
      }
    });

    test('the sweep deletes the ended proofs, at most batchMax a statement, and no live one', async (t) => {
      const own = await openBackend(backend);
      const ownStores = await openStores(own.settings);
      t.after(async () => {
        await ownStores.close();
        await own.cleanup();
      });
      const store = ownStores.controlPlane.dpopProofs;
      const now = Date.now();
      const proofs = new DpopProofs({ store, clock: () => now });
      const { jkt, proof } = await holder();
      for (let i = 0; i < 5; i++)
        await proofs.verify(TENANT_A, await proof(now - 10_000), TOKEN, jkt, TARGET);
      await proofs.verify(TENANT_A, await proof(now), TOKEN, jkt, TARGET);
      const sweep = new DpopProofSweep({ store, intervalMs: 1000, batchMax: 2 });
      const rows = async () => (await dpopProofRows(own.settings, TENANT_A)).length;
      assert.equal(await rows(), 6);

      assert.equal(await sweep.run(now), 0, 'none has ended');
      const past = now - 10_000 + WINDOW_MS + 1000;
      assert.equal(await store.sweep(past, 2), 2, 'one statement takes two');
      assert.equal(await rows(), 4);
      assert.equal(await sweep.run(past), 3, 'a pass takes the rest that ended, two at a time');
      assert.equal(await rows(), 1, 'the live one stays');
    });
  });
}
