import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  XWING_CIPHERTEXT_LENGTH,
  XWING_PUBLIC_KEY_LENGTH,
  XWingSecretKey,
  xwingEncapsulate,
} from '../src/index.ts';
import { nativeXWing } from './support/native-xwing.ts';
import { encapsulateWithSeed, nobleXWing } from './support/noble-xwing.ts';
import { hex, loadVectors, type XWingVector } from './support/vectors.ts';

const vectors = loadVectors<XWingVector[]>('xwing-kem.json');

describe('X-Wing draft test vectors', () => {
  it('has the vectors', () => assert.equal(vectors.length, 3));

  for (const [i, v] of vectors.entries()) {
    it(`native: vector ${i} public key from seed and decapsulation`, () => {
      const key = XWingSecretKey.fromSeed(hex(v.seed));
      assert.equal(Buffer.from(key.publicKey).toString('hex'), v.pk);
      assert.equal(key.decapsulate(hex(v.ct)).toString('hex'), v.ss);
      assert.equal(key.exportSeed().toString('hex'), v.sk);
    });

    it(`noble oracle: vector ${i} including derandomized encapsulation`, () => {
      assert.equal(Buffer.from(nobleXWing.publicKeyFromSeed(hex(v.seed))).toString('hex'), v.pk);
      const { sharedSecret, ciphertext } = encapsulateWithSeed(hex(v.eseed))(hex(v.pk));
      assert.equal(Buffer.from(ciphertext).toString('hex'), v.ct);
      assert.equal(Buffer.from(sharedSecret).toString('hex'), v.ss);
    });
  }
});

describe('X-Wing native ↔ noble cross-check', () => {
  for (let round = 0; round < 5; round++) {
    it(`round ${round}: native encapsulates, noble decapsulates, and back`, () => {
      const seed = randomBytes(32);
      const publicKey = nativeXWing.publicKeyFromSeed(seed);
      assert.deepEqual(Buffer.from(nobleXWing.publicKeyFromSeed(seed)), Buffer.from(publicKey));

      const native = nativeXWing.encapsulate(publicKey);
      assert.equal(native.ciphertext.length, XWING_CIPHERTEXT_LENGTH);
      assert.deepEqual(
        Buffer.from(nobleXWing.decapsulate(seed, native.ciphertext)),
        Buffer.from(native.sharedSecret),
      );

      const noble = nobleXWing.encapsulate(publicKey);
      assert.deepEqual(
        Buffer.from(nativeXWing.decapsulate(seed, noble.ciphertext)),
        Buffer.from(noble.sharedSecret),
      );
    });
  }

  it('agrees with noble on a corrupted ML-KEM ciphertext (implicit rejection)', () => {
    const seed = randomBytes(32);
    const { ciphertext } = nativeXWing.encapsulate(nativeXWing.publicKeyFromSeed(seed));
    const bad = Buffer.from(ciphertext);
    bad[17]! ^= 0x01;
    assert.deepEqual(
      Buffer.from(nativeXWing.decapsulate(seed, bad)),
      Buffer.from(nobleXWing.decapsulate(seed, bad)),
    );
  });
});

describe('X-Wing input checks', () => {
  it('rejects public keys of the wrong length', () => {
    assert.throws(() => xwingEncapsulate(new Uint8Array(XWING_PUBLIC_KEY_LENGTH - 1)), {
      code: 'CRYPTO_BAD_KEY',
    });
  });

  it('rejects seeds of the wrong length', () => {
    assert.throws(() => XWingSecretKey.fromSeed(new Uint8Array(31)), { code: 'CRYPTO_BAD_KEY' });
  });

  it('rejects ciphertexts of the wrong length', () => {
    const key = XWingSecretKey.generate();
    assert.throws(() => key.decapsulate(new Uint8Array(XWING_CIPHERTEXT_LENGTH + 1)), {
      code: 'CRYPTO_DECRYPT_FAILED',
    });
  });

  it('rejects an ML-KEM public key that fails the modulus check', () => {
    const publicKey = Buffer.from(XWingSecretKey.generate().publicKey);
    publicKey.fill(0xff, 0, 12);
    assert.throws(() => xwingEncapsulate(publicKey), { code: 'CRYPTO_BAD_KEY' });
  });

  it('rejects a low-order X25519 ciphertext part instead of returning a weak secret', () => {
    const key = XWingSecretKey.generate();
    const ciphertext = Buffer.from(xwingEncapsulate(key.publicKey).ciphertext);
    ciphertext.fill(0, XWING_CIPHERTEXT_LENGTH - 32);
    assert.throws(() => key.decapsulate(ciphertext), { code: 'CRYPTO_DECRYPT_FAILED' });
  });

  it('refuses to decapsulate once destroyed', () => {
    const key = XWingSecretKey.generate();
    const { ciphertext } = xwingEncapsulate(key.publicKey);
    key.destroy();
    assert.throws(() => key.decapsulate(ciphertext), { code: 'CRYPTO_KEY_DESTROYED' });
  });
});
