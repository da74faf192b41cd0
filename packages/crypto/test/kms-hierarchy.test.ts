import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createTenantKek,
  DataKey,
  DataKeyring,
  decryptField,
  encryptField,
  LocalKms,
  MasterKey,
  openTenantKek,
  readSealedHeader,
  rotateMasterKey,
  unwrapDataKey,
  wrapDataKey,
} from '../src/index.ts';

const context = { purpose: 'palisade/test', tenantId: 'tenant-a', keyVersion: 1 };
const secret = Buffer.alloc(32, 0x5a);

describe('LocalKms', () => {
  const master = MasterKey.generate();
  const kms = new LocalKms(master);

  it('seals and opens, recording the master key id', async () => {
    const sealed = await kms.seal(context, secret);
    assert.equal(sealed.length, 22 + 32 + 16);
    assert.equal(readSealedHeader(sealed).masterKeyId, master.id);
    assert.equal(kms.keyId, master.id);
    assert.ok(kms.isCurrent(sealed));
    assert.deepEqual(Buffer.from(await kms.open(context, sealed)), secret);
  });

  it('MACs under a key of its own per label and per master key (HKDF-SHA256, RFC 5869)', async () => {
    const data = Buffer.from('message');
    const mac = await kms.mac('palisade/test/v1', data);
    assert.equal(mac.length, 32);
    assert.deepEqual(await kms.mac('palisade/test/v1', data), mac);
    assert.notDeepEqual(await kms.mac('palisade/test/v2', data), mac);
    assert.notDeepEqual(
      await new LocalKms(MasterKey.generate()).mac('palisade/test/v1', data),
      mac,
    );
    await assert.rejects(kms.mac('', data), { code: 'CRYPTO_BAD_CONTEXT' });
  });

  it('fails for any other context', async () => {
    const sealed = await kms.seal(context, secret);
    for (const other of [
      { ...context, purpose: 'other' },
      { ...context, tenantId: 'tenant-b' },
      { ...context, keyVersion: 2 },
      { ...context, binding: Buffer.of(1) },
    ]) {
      await assert.rejects(kms.open(other, sealed), { code: 'CRYPTO_DECRYPT_FAILED' });
    }
  });

  it('names a master key it does not hold', async () => {
    const sealed = await kms.seal(context, secret);
    await assert.rejects(new LocalKms(MasterKey.generate()).open(context, sealed), {
      code: 'CRYPTO_BAD_MASTER_KEY',
    });
  });

  it('rejects malformed sealed values', async () => {
    await assert.rejects(kms.open(context, Buffer.of(0x52)), { code: 'CRYPTO_BAD_HEADER' });
    await assert.rejects(kms.open(context, Buffer.alloc(20, 0x51)), { code: 'CRYPTO_BAD_HEADER' });
  });
});

describe('key hierarchy: master key → tenant KEK → data keys → fields', () => {
  it('works end to end, and survives a master key rotation without touching data', async () => {
    const oldKms = new LocalKms(MasterKey.generate());
    const tenants = ['tenant-a', 'tenant-b'];
    const records = [];
    const wrapped = new Map<string, Uint8Array>();
    const ciphertexts = new Map<string, Uint8Array>();
    for (const tenantId of tenants) {
      const { record, secretKey } = await createTenantKek(oldKms, tenantId, 1);
      secretKey.destroy();
      records.push(record);
      const dataKey = DataKey.generate('fields', 1);
      wrapped.set(tenantId, wrapDataKey(record.publicKey, dataKey, { tenantId, kekVersion: 1 }));
      const fieldContext = { tenantId, collection: 'c', recordId: 'r', field: 'f' };
      ciphertexts.set(
        tenantId,
        encryptField(dataKey, fieldContext, Buffer.from(`hello ${tenantId}`)),
      );
    }

    const newMaster = MasterKey.generate();
    const newKms = new LocalKms(newMaster);
    const rotated = await rotateMasterKey(records, oldKms, newKms);
    assert.ok(rotated.every((r) => newKms.isCurrent(r.sealedSeed)));
    assert.deepEqual(
      rotated.map((r) => r.publicKey),
      records.map((r) => r.publicKey),
    );
    const again = await rotateMasterKey(rotated, oldKms, newKms);
    assert.ok(
      again.every((r, i) => r === rotated[i]),
      'rotation is idempotent',
    );

    for (const record of rotated) {
      const { tenantId } = record;
      await assert.rejects(openTenantKek(oldKms, record), { code: 'CRYPTO_BAD_MASTER_KEY' });
      const kek = await openTenantKek(newKms, record);
      const dataKey = unwrapDataKey(kek, { tenantId, kekVersion: 1 }, wrapped.get(tenantId)!);
      const fieldContext = { tenantId, collection: 'c', recordId: 'r', field: 'f' };
      const plain = decryptField(
        new DataKeyring([dataKey]),
        fieldContext,
        ciphertexts.get(tenantId)!,
      );
      assert.equal(Buffer.from(plain).toString(), `hello ${tenantId}`);
    }
  });

  it('opens records sealed by a previous master key during a rotation', async () => {
    const oldMaster = MasterKey.generate();
    const { record } = await createTenantKek(new LocalKms(oldMaster), 'tenant-a', 1);
    const kms = new LocalKms(MasterKey.generate(), { previous: [oldMaster] });
    assert.equal(kms.isCurrent(record.sealedSeed), false);
    assert.deepEqual((await openTenantKek(kms, record)).publicKey, record.publicKey);
  });

  it('refuses a KEK record moved to another tenant or version, or with a swapped public key', async () => {
    const kms = new LocalKms(MasterKey.generate());
    const { record } = await createTenantKek(kms, 'tenant-a', 1);
    const other = await createTenantKek(kms, 'tenant-a', 2);
    await assert.rejects(openTenantKek(kms, { ...record, tenantId: 'tenant-b' }), {
      code: 'CRYPTO_DECRYPT_FAILED',
    });
    await assert.rejects(openTenantKek(kms, { ...record, version: 2 }), {
      code: 'CRYPTO_DECRYPT_FAILED',
    });
    await assert.rejects(openTenantKek(kms, { ...record, publicKey: other.record.publicKey }), {
      code: 'CRYPTO_DECRYPT_FAILED',
    });
  });

  it('validates the tenant id and version of a new KEK', async () => {
    const kms = new LocalKms(MasterKey.generate());
    await assert.rejects(createTenantKek(kms, '', 1), { code: 'CRYPTO_BAD_CONTEXT' });
    await assert.rejects(createTenantKek(kms, 'tenant-a', 0), { code: 'CRYPTO_BAD_CONTEXT' });
  });
});
