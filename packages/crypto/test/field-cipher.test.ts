import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DataKey,
  DataKeyring,
  decryptField,
  encryptField,
  type FieldContext,
  readFieldHeader,
} from '../src/index.ts';
import { specDecryptField } from './support/spec-decoders.ts';
import { hex, loadVectors } from './support/vectors.ts';

const context: FieldContext = {
  tenantId: 'tenant-a',
  collection: 'patients',
  recordId: 'r-1',
  field: 'ssn',
};
const text = (s: string) => new TextEncoder().encode(s);

describe('field encryption round trips', () => {
  const v1 = DataKey.generate('fields', 1);
  const v2 = DataKey.generate('fields', 2);
  const ring = new DataKeyring([v1, v2]);

  it('decrypts what it encrypts, for empty, short and long values', () => {
    for (const plaintext of [
      new Uint8Array(0),
      text('078-05-1120'),
      new Uint8Array(70_000).fill(7),
    ]) {
      const ct = encryptField(ring, context, plaintext);
      assert.deepEqual(Buffer.from(decryptField(ring, context, ct)), Buffer.from(plaintext));
    }
  });

  it('encrypts with the newest version and decrypts any known one', () => {
    assert.equal(readFieldHeader(encryptField(ring, context, text('x'))).keyVersion, 2);
    const old = encryptField(v1, context, text('old'));
    assert.deepEqual(readFieldHeader(old), {
      format: 0xf1,
      algorithm: 1,
      keyId: 'fields',
      keyVersion: 1,
    });
    assert.equal(Buffer.from(decryptField(ring, context, old)).toString(), 'old');
  });

  it('uses a fresh nonce each time', () => {
    const a = encryptField(v1, context, text('same'));
    const b = encryptField(v1, context, text('same'));
    assert.notDeepEqual(Buffer.from(a), Buffer.from(b));
  });

  it('matches the README layout (independent decoder)', () => {
    const bytes = Buffer.alloc(32, 9);
    const key = DataKey.fromBytes('k', 7, bytes);
    const ct = Buffer.from(encryptField(key, context, text('hello')));
    assert.equal(ct.length, 3 + 1 + 4 + 12 + 5 + 16);
    assert.equal(specDecryptField(bytes, context, ct).toString(), 'hello');
  });

  it('decrypts the frozen known-answer ciphertext', () => {
    const kat = loadVectors<{
      key: string;
      keyId: string;
      version: number;
      context: FieldContext;
      plaintext: string;
      ciphertext: string;
    }>('field-kat.json');
    const key = DataKey.fromBytes(kat.keyId, kat.version, hex(kat.key));
    assert.equal(
      Buffer.from(decryptField(key, kat.context, hex(kat.ciphertext))).toString('hex'),
      kat.plaintext,
    );
    assert.equal(
      specDecryptField(hex(kat.key), kat.context, hex(kat.ciphertext)).toString('hex'),
      kat.plaintext,
    );
  });
});

describe('field encryption failures', () => {
  const key = DataKey.generate('fields', 1);
  const ring = new DataKeyring([key]);
  const ct = encryptField(key, context, text('secret'));
  const fail = (code: string, fn: () => unknown) =>
    assert.throws(fn, { name: 'CryptoError', code });

  for (const [name, moved] of Object.entries({
    'another tenant': { ...context, tenantId: 'tenant-b' },
    'another collection': { ...context, collection: 'doctors' },
    'another record': { ...context, recordId: 'r-2' },
    'another field': { ...context, field: 'name' },
  })) {
    it(`fails when moved to ${name}`, () =>
      fail('CRYPTO_DECRYPT_FAILED', () => decryptField(ring, moved, ct)));
  }

  it('keeps context fields apart (no concatenation ambiguity)', () => {
    const c1 = { ...context, collection: 'ab', recordId: 'c' };
    const c2 = { ...context, collection: 'a', recordId: 'bc' };
    fail('CRYPTO_DECRYPT_FAILED', () => decryptField(ring, c2, encryptField(key, c1, text('x'))));
  });

  it('fails under a different key with the same id and version', () => {
    fail('CRYPTO_DECRYPT_FAILED', () => decryptField(DataKey.generate('fields', 1), context, ct));
  });

  it('fails when the header names another key version', () => {
    const other = new DataKeyring([key, DataKey.generate('fields', 2)]);
    const bumped = Buffer.from(ct);
    bumped.writeUInt32BE(2, 3 + 'fields'.length);
    fail('CRYPTO_DECRYPT_FAILED', () => decryptField(other, context, bumped));
    bumped.writeUInt32BE(9, 3 + 'fields'.length);
    fail('CRYPTO_UNKNOWN_KEY_VERSION', () => decryptField(other, context, bumped));
  });

  it('fails on another key id', () => {
    fail('CRYPTO_KEY_ID_MISMATCH', () =>
      decryptField(new DataKeyring([DataKey.generate('other', 1)]), context, ct),
    );
  });

  it('fails on a tampered tag, nonce or body', () => {
    for (const offset of [ct.length - 1, 3 + 6 + 4, ct.length - 17]) {
      const bad = Buffer.from(ct);
      bad[offset]! ^= 0x80;
      fail('CRYPTO_DECRYPT_FAILED', () => decryptField(ring, context, bad));
    }
  });

  it('rejects malformed headers', () => {
    for (const mutate of [
      (b: Buffer) => (b[0] = 0xf2),
      (b: Buffer) => (b[1] = 0x02),
      (b: Buffer) => (b[2] = 0),
    ]) {
      const bad = Buffer.from(ct);
      mutate(bad);
      fail('CRYPTO_BAD_HEADER', () => decryptField(ring, context, bad));
    }
    for (const length of [0, 1, 5, 3 + 6 + 4 + 12 + 15]) {
      fail('CRYPTO_BAD_HEADER', () => decryptField(ring, context, ct.subarray(0, length)));
    }
  });

  it('rejects bad contexts', () => {
    for (const bad of [
      { ...context, tenantId: '' },
      { ...context, field: 'x'.repeat(256) },
      { ...context, recordId: '\ud800' },
      { ...context, collection: 42 as unknown as string },
    ]) {
      fail('CRYPTO_BAD_CONTEXT', () => encryptField(key, bad, text('x')));
    }
  });

  it('refuses a destroyed key', () => {
    const gone = DataKey.generate('fields', 1);
    gone.destroy();
    fail('CRYPTO_KEY_DESTROYED', () => encryptField(gone, context, text('x')));
  });
});
