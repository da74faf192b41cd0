import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataKey, DataKeyCache, encryptField } from '../src/index.ts';

const context = { tenantId: 't', collection: 'c', recordId: 'r', field: 'f' };

function clock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('DataKeyCache', () => {
  it('validates its options', () => {
    assert.throws(() => new DataKeyCache({ maxEntries: 0, ttlMs: 1 }), {
      code: 'CRYPTO_INVALID_OPTION',
    });
    assert.throws(() => new DataKeyCache({ maxEntries: 1, ttlMs: 0 }), {
      code: 'CRYPTO_INVALID_OPTION',
    });
    assert.throws(() => new DataKeyCache({ maxEntries: 1.5, ttlMs: 1 }), {
      code: 'CRYPTO_INVALID_OPTION',
    });
  });

  it('namespaces keys by tenant', () => {
    const cache = new DataKeyCache({ maxEntries: 10, ttlMs: 1000 });
    const key = DataKey.generate('fields', 1);
    cache.set('tenant-a', key);
    assert.equal(cache.get('tenant-a', 'fields', 1), key);
    assert.equal(cache.get('tenant-b', 'fields', 1), undefined);
    assert.equal(cache.get('tenant-a', 'fields', 2), undefined);
  });

  it('keeps the same key id and version of two tenants apart', () => {
    const cache = new DataKeyCache({ maxEntries: 10, ttlMs: 1000 });
    const [a, b] = [DataKey.generate('fields', 1), DataKey.generate('fields', 1)];
    cache.set('tenant-a', a);
    cache.set('tenant-b', b);
    cache.set('tenant-a', a);
    assert.equal(cache.size, 2);
    cache.deleteTenant('tenant-a');
    assert.ok(a.destroyed && !b.destroyed);
    assert.equal(cache.get('tenant-a', 'fields', 1), undefined);
    assert.equal(cache.get('tenant-b', 'fields', 1), b);
  });

  it('evicts the least recently used beyond maxEntries and zeroes it', () => {
    const cache = new DataKeyCache({ maxEntries: 2, ttlMs: 1000 });
    const [a, b, c] = [1, 2, 3].map((v) => DataKey.generate('fields', v)) as [
      DataKey,
      DataKey,
      DataKey,
    ];
    cache.set('t', a);
    cache.set('t', b);
    cache.get('t', 'fields', 1); // a is now most recent
    cache.set('t', c);
    assert.equal(cache.size, 2);
    assert.equal(b.destroyed, true);
    assert.equal(cache.get('t', 'fields', 2), undefined);
    assert.equal(a.destroyed, false);
    assert.throws(() => encryptField(b, context, Buffer.of(1)), { code: 'CRYPTO_KEY_DESTROYED' });
  });

  it('expires keys after ttlMs (use does not extend it) and zeroes them', () => {
    const time = clock();
    const cache = new DataKeyCache({ maxEntries: 10, ttlMs: 100, now: time.now });
    const key = DataKey.generate('fields', 1);
    cache.set('t', key);
    time.advance(60);
    assert.equal(cache.get('t', 'fields', 1), key);
    time.advance(40);
    assert.equal(cache.get('t', 'fields', 1), undefined);
    assert.equal(key.destroyed, true);
  });

  it('prunes expired keys when adding', () => {
    const time = clock();
    const cache = new DataKeyCache({ maxEntries: 10, ttlMs: 100, now: time.now });
    const old = DataKey.generate('fields', 1);
    cache.set('t', old);
    time.advance(200);
    cache.set('t', DataKey.generate('fields', 2));
    assert.equal(cache.size, 1);
    assert.equal(old.destroyed, true);
  });

  it('destroys replaced, deleted, per-tenant and cleared keys', () => {
    const cache = new DataKeyCache({ maxEntries: 10, ttlMs: 1000 });
    const first = DataKey.generate('fields', 1);
    const replacement = DataKey.generate('fields', 1);
    cache.set('a', first);
    cache.set('a', replacement);
    assert.equal(first.destroyed, true);
    const b1 = DataKey.generate('fields', 1);
    const b2 = DataKey.generate('fields', 2);
    cache.set('b', b1);
    cache.set('b', b2);
    cache.deleteTenant('b');
    assert.ok(b1.destroyed && b2.destroyed && !replacement.destroyed);
    cache.delete('a', 'fields', 1);
    assert.equal(replacement.destroyed, true);
    const c = DataKey.generate('fields', 1);
    cache.set('c', c);
    cache.clear();
    assert.equal(c.destroyed, true);
    assert.equal(cache.size, 0);
  });

  it('loads once for concurrent misses and checks what the loader returns', async () => {
    const cache = new DataKeyCache({ maxEntries: 10, ttlMs: 1000 });
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return DataKey.generate('fields', 1);
    };
    const [x, y] = await Promise.all([
      cache.getOrLoad('t', 'fields', 1, load),
      cache.getOrLoad('t', 'fields', 1, load),
    ]);
    assert.equal(loads, 1);
    assert.equal(x, y);
    assert.equal(await cache.getOrLoad('t', 'fields', 1, load), x);
    await assert.rejects(
      cache.getOrLoad('t', 'fields', 9, async () => DataKey.generate('fields', 1)),
      { code: 'CRYPTO_KEY_ID_MISMATCH' },
    );
  });

  it('does not keep a key whose load finishes after its tenant was dropped', async () => {
    const cache = new DataKeyCache({ maxEntries: 10, ttlMs: 1000 });
    let finish: (key: DataKey) => void = () => undefined;
    const loading = cache.getOrLoad(
      't',
      'fields',
      1,
      () => new Promise<DataKey>((resolve) => (finish = resolve)),
    );
    cache.deleteTenant('t'); // crypto-shredding while the key was being unwrapped
    const key = DataKey.generate('fields', 1);
    finish(key);
    await assert.rejects(loading, { code: 'CRYPTO_KEY_DESTROYED' });
    assert.equal(cache.size, 0);
    assert.equal(key.destroyed, true);
    const again = DataKey.generate('fields', 1);
    assert.equal(await cache.getOrLoad('t', 'fields', 1, async () => again), again);
  });
});
