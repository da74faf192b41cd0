import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CryptoError,
  DataKey,
  DataKeyring,
  decryptField,
  encryptField,
  LocalKms,
  MasterKey,
  unwrapDataKey,
  wrapDataKey,
  XWingSecretKey,
} from '../src/index.ts';

/** Every failure must be a typed CryptoError, never a stray exception or a wrong plaintext. */
function assertRejected(fn: () => unknown): void {
  assert.throws(fn, (error: unknown) => error instanceof CryptoError);
}

function flip(bytes: Uint8Array, bit: number): Buffer {
  const out = Buffer.from(bytes);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

describe('any single flipped bit is detected', () => {
  it('in a field ciphertext', () => {
    const key = DataKey.generate('fields', 1);
    const ring = new DataKeyring([key]);
    const context = { tenantId: 't', collection: 'c', recordId: 'r', field: 'f' };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (plaintext, seed) => {
        const ct = encryptField(key, context, plaintext);
        assertRejected(() => decryptField(ring, context, flip(ct, seed % (ct.length * 8))));
      }),
      { numRuns: 500 },
    );
  });

  it('in a wrapped data key', () => {
    const kek = XWingSecretKey.generate();
    const context = { tenantId: 't', kekVersion: 1 };
    const wrapped = wrapDataKey(kek.publicKey, DataKey.generate('fields', 1), context);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: wrapped.length * 8 - 1 }), (bit) => {
        assertRejected(() => unwrapDataKey(kek, context, flip(wrapped, bit)));
      }),
      { numRuns: 300 },
    );
  });

  it('in a value sealed by the local KMS', async () => {
    const kms = new LocalKms(MasterKey.generate());
    const context = { purpose: 'p', tenantId: 't', keyVersion: 1 };
    const sealed = await kms.seal(context, Buffer.alloc(32, 7));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: sealed.length * 8 - 1 }), async (bit) => {
        await assert.rejects(
          kms.open(context, flip(sealed, bit)),
          (error: unknown) => error instanceof CryptoError,
        );
      }),
      { numRuns: 200 },
    );
  });
});
