import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { XWingSecretKey, xwingEncapsulate } from '../src/index.ts';
import { keyImport } from '../src/kem/key-import.ts';
import { hex, loadVectors, type XWingVector } from './support/vectors.ts';

const [vector] = loadVectors<XWingVector[]>('xwing-kem.json');
const original = keyImport.raw;
after(() => {
  keyImport.raw = original;
});

describe('component key import paths (raw formats vs PKCS#8/SPKI DER)', () => {
  it('this runtime has the raw key formats (Node >= 24.15)', () => {
    assert.equal(original, true);
  });

  for (const raw of [true, false]) {
    it(`${raw ? 'raw' : 'DER'} path passes the draft vector and round-trips`, () => {
      keyImport.raw = raw;
      const key = XWingSecretKey.fromSeed(hex(vector!.seed));
      assert.equal(Buffer.from(key.publicKey).toString('hex'), vector!.pk);
      assert.equal(key.decapsulate(hex(vector!.ct)).toString('hex'), vector!.ss);
      const { sharedSecret, ciphertext } = xwingEncapsulate(key.publicKey);
      assert.deepEqual(key.decapsulate(ciphertext), Buffer.from(sharedSecret));
    });
  }
});
