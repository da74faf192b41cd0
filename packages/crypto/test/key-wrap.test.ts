import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DataKey,
  readWrappedKeyHeader,
  rewrapDataKey,
  unwrapDataKey,
  type WrapContext,
  wrapDataKey,
  XWingSecretKey,
} from '../src/index.ts';
import { encapsulateWithSeed } from './support/noble-xwing.ts';
import { specUnwrap } from './support/spec-decoders.ts';
import { hex, loadVectors } from './support/vectors.ts';

interface WrapKat {
  kekSeed: string;
  eseed: string;
  nonce: string;
  context: WrapContext;
  keyId: string;
  keyVersion: number;
  dataKey: string;
  wrapped: string;
}

const kat = loadVectors<WrapKat>('wrap-kat.json');
const fail = (code: string, fn: () => unknown) => assert.throws(fn, { name: 'CryptoError', code });

describe('key wrapping known answers', () => {
  const kek = XWingSecretKey.fromSeed(hex(kat.kekSeed));
  const dataKey = DataKey.fromBytes(kat.keyId, kat.keyVersion, hex(kat.dataKey));

  it('produces the frozen bytes from fixed seed, eseed and nonce', () => {
    const wrapped = wrapDataKey(kek.publicKey, dataKey, kat.context, {
      encapsulate: encapsulateWithSeed(hex(kat.eseed)),
      nonce: hex(kat.nonce),
    });
    assert.equal(Buffer.from(wrapped).toString('hex'), kat.wrapped);
    assert.equal(wrapped.length, 1191 + kat.keyId.length);
  });

  it('unwraps the frozen bytes, natively and with the independent decoder', () => {
    const unwrapped = unwrapDataKey(kek, kat.context, hex(kat.wrapped));
    assert.ok(unwrapped.equals(dataKey));
    assert.equal(unwrapped.keyId, kat.keyId);
    assert.equal(unwrapped.version, kat.keyVersion);
    assert.equal(
      specUnwrap(hex(kat.kekSeed), kat.context.tenantId, hex(kat.wrapped)).toString('hex'),
      kat.dataKey,
    );
  });

  it('reads the header without a key', () => {
    assert.deepEqual(readWrappedKeyHeader(hex(kat.wrapped)), {
      format: 0xa1,
      algorithm: 1,
      kekVersion: 3,
      keyId: 'fields',
      keyVersion: 5,
    });
  });
});

describe('key wrapping round trips and failures', () => {
  const kek = XWingSecretKey.generate();
  const context: WrapContext = { tenantId: 'tenant-a', kekVersion: 1 };
  const dataKey = DataKey.generate('fields', 4);
  const wrapped = wrapDataKey(kek.publicKey, dataKey, context);

  it('round-trips with native randomness', () => {
    assert.ok(unwrapDataKey(kek, context, wrapped).equals(dataKey));
    assert.notDeepEqual(
      Buffer.from(wrapDataKey(kek.publicKey, dataKey, context)),
      Buffer.from(wrapped),
    );
  });

  it('fails for another tenant', () => {
    fail('CRYPTO_DECRYPT_FAILED', () =>
      unwrapDataKey(kek, { ...context, tenantId: 'tenant-b' }, wrapped),
    );
  });

  it('fails for another KEK', () => {
    fail('CRYPTO_DECRYPT_FAILED', () => unwrapDataKey(XWingSecretKey.generate(), context, wrapped));
  });

  it('names a KEK version mismatch', () => {
    fail('CRYPTO_UNKNOWN_KEY_VERSION', () =>
      unwrapDataKey(kek, { ...context, kekVersion: 2 }, wrapped),
    );
  });

  it('fails when the header is edited (key version, key id, KEK version)', () => {
    const n = 'fields'.length;
    for (const [offset, value] of [
      [7 + n + 3, 9],
      [7, 0x67],
    ] as const) {
      const bad = Buffer.from(wrapped);
      bad[offset] = value;
      fail('CRYPTO_DECRYPT_FAILED', () => unwrapDataKey(kek, context, bad));
    }
    const bumped = Buffer.from(wrapped);
    bumped.writeUInt32BE(2, 2);
    fail('CRYPTO_DECRYPT_FAILED', () => unwrapDataKey(kek, { ...context, kekVersion: 2 }, bumped));
  });

  it('rejects malformed input', () => {
    fail('CRYPTO_BAD_HEADER', () =>
      unwrapDataKey(kek, context, wrapped.subarray(0, wrapped.length - 1)),
    );
    fail('CRYPTO_BAD_HEADER', () =>
      unwrapDataKey(kek, context, Buffer.concat([wrapped, Buffer.of(0)])),
    );
    const badFormat = Buffer.from(wrapped);
    badFormat[0] = 0xa2;
    fail('CRYPTO_BAD_HEADER', () => unwrapDataKey(kek, context, badFormat));
    const badAlg = Buffer.from(wrapped);
    badAlg[1] = 0x02;
    fail('CRYPTO_BAD_HEADER', () => unwrapDataKey(kek, context, badAlg));
  });

  it('rejects a bad public key or context when wrapping', () => {
    fail('CRYPTO_BAD_KEY', () => wrapDataKey(new Uint8Array(10), dataKey, context));
    fail('CRYPTO_BAD_CONTEXT', () =>
      wrapDataKey(kek.publicKey, dataKey, { ...context, kekVersion: 0 }),
    );
    fail('CRYPTO_BAD_CONTEXT', () =>
      wrapDataKey(kek.publicKey, dataKey, { ...context, tenantId: '' }),
    );
  });

  it('re-wraps to a new KEK version without changing the data key', () => {
    const next = XWingSecretKey.generate();
    const nextContext = { tenantId: 'tenant-a', kekVersion: 2 };
    const rewrapped = rewrapDataKey(
      { kek, context },
      { publicKey: next.publicKey, context: nextContext },
      wrapped,
    );
    assert.equal(readWrappedKeyHeader(rewrapped).kekVersion, 2);
    assert.ok(unwrapDataKey(next, nextContext, rewrapped).equals(dataKey));
  });
});
