import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';

const dist = new URL('../dist/index.js', import.meta.url);

describe('the built package (dist/, as users get it)', () => {
  it('wraps a data key and encrypts a field', async (t) => {
    if (!existsSync(dist)) return t.skip('dist/ not built: run npm run build');
    const crypto = (await import(dist.href)) as typeof import('../src/index.ts');
    const kms = new crypto.LocalKms(crypto.MasterKey.generate());
    const { record, secretKey } = await crypto.createTenantKek(kms, 'tenant-a', 1);
    const dataKey = crypto.DataKey.generate('fields', 1);
    const wrapped = crypto.wrapDataKey(record.publicKey, dataKey, {
      tenantId: 'tenant-a',
      kekVersion: 1,
    });
    const unwrapped = crypto.unwrapDataKey(
      secretKey,
      { tenantId: 'tenant-a', kekVersion: 1 },
      wrapped,
    );
    const where = { tenantId: 'tenant-a', collection: 'c', recordId: 'r', field: 'f' };
    const sealed = crypto.encryptField(unwrapped, where, Buffer.from('hi'));
    assert.equal(Buffer.from(crypto.decryptField(dataKey, where, sealed)).toString(), 'hi');
    assert.throws(() => crypto.decryptField(dataKey, { ...where, tenantId: 'tenant-b' }, sealed), {
      code: 'CRYPTO_DECRYPT_FAILED',
    });
  });
});
