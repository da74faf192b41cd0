/**
 * The DPoP replay memory forgets a proof only once its acceptance window has ended: full of
 * proofs still within theirs, it refuses new proofs (and counts them) rather than forget one
 * that could then be replayed; one tenant filling its share leaves the others theirs. Small
 * bounds and a moved clock, no waiting.
 */
import assert from 'node:assert/strict';
import { hash, randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { DpopProofs } from '../src/identity/dpop-proof.ts';

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

test('a full replay memory refuses new proofs and still knows every live one', async () => {
  let now = Date.now();
  let refused = 0;
  const proofs = new DpopProofs({
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
  await assert.rejects(verify(first), { code: 'PALISADE_DPOP_PROOF_INVALID' }, 'still no replay');
  now += 2000;
  await assert.rejects(verify(first), /too old|timestamp/, 'past its window it is refused as old');
  const fresh = await proof(now);
  await verify(fresh);
  await verify(await proof(now));
  await assert.rejects(verify(fresh), { code: 'PALISADE_DPOP_PROOF_INVALID' });
  assert.equal(refused, 3);
});

test("one tenant's clients filling its share of the memory leave other tenants theirs", async () => {
  const now = Date.now();
  const proofs = new DpopProofs({ max: 10, tenantMax: 3, clock: () => now });
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
