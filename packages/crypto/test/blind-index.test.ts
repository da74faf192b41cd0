import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { BlindIndexKey, blindIndex } from '../src/index.ts';

const context = { tenantId: 'tenant-a', collection: 'patients', field: 'email' };

describe('blind index', () => {
  const key = BlindIndexKey.generate();

  it('is deterministic for equal values and differs for different ones', () => {
    assert.equal(
      blindIndex(key, context, 'a@example.com'),
      blindIndex(key, context, 'a@example.com'),
    );
    assert.notEqual(
      blindIndex(key, context, 'a@example.com'),
      blindIndex(key, context, 'b@example.com'),
    );
  });

  it('is 128 bits of base64url', () => {
    assert.match(blindIndex(key, context, 'x'), /^[A-Za-z0-9_-]{22}$/);
  });

  it('differs per tenant, collection, field and key', () => {
    const base = blindIndex(key, context, 'v');
    assert.notEqual(blindIndex(key, { ...context, tenantId: 'tenant-b' }, 'v'), base);
    assert.notEqual(blindIndex(key, { ...context, collection: 'doctors' }, 'v'), base);
    assert.notEqual(blindIndex(key, { ...context, field: 'phone' }, 'v'), base);
    assert.notEqual(blindIndex(BlindIndexKey.generate(), context, 'v'), base);
  });

  it('treats a string and its UTF-8 bytes alike', () => {
    assert.equal(blindIndex(key, context, 'ü'), blindIndex(key, context, Buffer.from('ü')));
  });

  it('is HMAC-SHA256 over label, length-prefixed context and value, truncated', () => {
    const bytes = Buffer.alloc(32, 1);
    const lp = (s: string) => Buffer.concat([Buffer.of(s.length), Buffer.from(s)]);
    const expected = createHmac('sha256', bytes)
      .update(Buffer.from('palisade/blind-index/v1\0'))
      .update(Buffer.concat([lp('tenant-a'), lp('patients'), lp('email')]))
      .update('v')
      .digest()
      .subarray(0, 16)
      .toString('base64url');
    assert.equal(blindIndex(BlindIndexKey.fromBytes(bytes), context, 'v'), expected);
  });

  it('equals createHmac for values short and long, in one buffer and in their own', () => {
    const bytes = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7));
    const indexKey = BlindIndexKey.fromBytes(bytes);
    const lp = (s: string) => Buffer.concat([Buffer.of(Buffer.byteLength(s)), Buffer.from(s)]);
    const wide = { tenantId: 'tenant-ü', collection: 'c'.repeat(255), field: '😀' };
    for (const length of [0, 1, 55, 56, 63, 64, 600, 664, 665, 666, 5000]) {
      for (const value of [
        'é'.repeat(length >> 1) + 'x'.repeat(length & 1),
        Buffer.alloc(length, 9),
      ]) {
        const expected = createHmac('sha256', bytes)
          .update('palisade/blind-index/v1\0')
          .update(Buffer.concat([lp(wide.tenantId), lp(wide.collection), lp(wide.field)]))
          .update(value)
          .digest()
          .subarray(0, 16)
          .toString('base64url');
        assert.equal(blindIndex(indexKey, wide, value), expected, `length ${length}`);
      }
    }
  });

  it('rejects bad contexts and values', () => {
    assert.throws(() => blindIndex(key, { ...context, field: '' }, 'v'), {
      code: 'CRYPTO_BAD_CONTEXT',
    });
    assert.throws(() => blindIndex(key, context, '\udc00'), { code: 'CRYPTO_BAD_CONTEXT' });
    assert.throws(() => blindIndex(key, context, 5 as unknown as string), {
      code: 'CRYPTO_BAD_CONTEXT',
    });
  });
});
