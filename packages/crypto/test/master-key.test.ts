import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadMasterKey, MASTER_KEY_ENV, MasterKey, SCRYPT_OWASP_PARAMS } from '../src/index.ts';

const dir = await mkdtemp(join(tmpdir(), 'palisade-crypto-'));
after(() => rm(dir, { recursive: true, force: true }));
const bytes = Buffer.alloc(32, 0xab);

describe('loadMasterKey: environment', () => {
  it('reads hex and base64', async () => {
    for (const text of [
      bytes.toString('hex'),
      bytes.toString('base64'),
      ` ${bytes.toString('base64url')}\n`,
    ]) {
      const loaded = await loadMasterKey({ env: { [MASTER_KEY_ENV]: text } });
      assert.equal(loaded.source, 'env');
      assert.equal(loaded.generated, false);
      assert.ok(loaded.key.equals(MasterKey.fromBytes(bytes)));
    }
  });

  it('rejects malformed values without echoing them', async () => {
    for (const text of [
      'abc',
      bytes.subarray(0, 31).toString('hex'),
      `${bytes.toString('hex')}00`,
    ]) {
      await assert.rejects(
        loadMasterKey({ env: { [MASTER_KEY_ENV]: text } }),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, 'CRYPTO_BAD_MASTER_KEY');
          assert.ok(!error.message.includes(text));
          return true;
        },
      );
    }
  });

  it('wins over a key file, with a warning', async () => {
    const loaded = await loadMasterKey({
      env: { [MASTER_KEY_ENV]: bytes.toString('hex') },
      keyFile: join(dir, 'unused'),
    });
    assert.equal(loaded.source, 'env');
    assert.equal(loaded.warnings.length, 1);
  });
});

describe('loadMasterKey: key file', () => {
  it('generates a 0600 key file when told to, and reads it back', async () => {
    const keyFile = join(dir, 'nested', 'master.key');
    const first = await loadMasterKey({ keyFile, generateIfMissing: true });
    assert.equal(first.generated, true);
    assert.equal(first.source, 'key-file');
    assert.equal(first.path, keyFile);
    if (process.platform !== 'win32') assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    const second = await loadMasterKey({ keyFile, generateIfMissing: true });
    assert.equal(second.generated, false);
    assert.deepEqual(second.warnings, []);
    assert.ok(second.key.equals(first.key));
    assert.equal((await readFile(keyFile, 'utf8')).trim(), first.key.exportBase64());
  });

  it('flushes a generated key file to disk before returning the key', async (t) => {
    // Tenant KEKs sealed under the key are fsync'd by the stores: the key must be first.
    const probe = await open(join(dir, 'probe'), 'w');
    await probe.close();
    const sync = t.mock.method(Object.getPrototypeOf(probe), 'sync');
    const keyFile = join(dir, 'durable.key');
    await loadMasterKey({ keyFile, generateIfMissing: true });
    assert.equal(sync.mock.callCount(), 1);
  });

  it('is missing without generateIfMissing', async () => {
    await assert.rejects(loadMasterKey({ keyFile: join(dir, 'absent.key') }), {
      code: 'CRYPTO_MASTER_KEY_MISSING',
    });
    await assert.rejects(loadMasterKey({ env: {} }), { code: 'CRYPTO_MASTER_KEY_MISSING' });
  });

  it('warns about a key file others can read', async (t) => {
    if (process.platform === 'win32') return t.skip('no POSIX modes');
    const keyFile = join(dir, 'loose.key');
    await writeFile(keyFile, bytes.toString('hex'), { mode: 0o644 });
    const loaded = await loadMasterKey({ keyFile });
    assert.equal(loaded.warnings.length, 1);
    assert.match(loaded.warnings[0]!, /chmod 600/);
  });

  it('rejects a corrupt key file', async () => {
    const keyFile = join(dir, 'corrupt.key');
    await writeFile(keyFile, 'not a key', { mode: 0o600 });
    await assert.rejects(loadMasterKey({ keyFile }), { code: 'CRYPTO_BAD_MASTER_KEY' });
  });
});

describe('loadMasterKey: passphrase (scrypt, OWASP parameters)', () => {
  const keyFile = join(dir, 'passphrase.json');

  it('creates the salt file, derives the same key again, and rejects a wrong passphrase', async () => {
    const created = await loadMasterKey({
      keyFile,
      passphrase: 'correct horse battery staple',
      generateIfMissing: true,
    });
    assert.equal(created.source, 'passphrase');
    assert.equal(created.generated, true);
    const stored = JSON.parse(await readFile(keyFile, 'utf8'));
    assert.equal(stored.kdf, 'scrypt');
    assert.equal(stored.N, SCRYPT_OWASP_PARAMS.N);
    assert.equal(stored.r, 8);
    assert.equal(stored.p, 1);
    assert.equal(Buffer.from(stored.salt, 'base64').length, 16);
    assert.equal(stored.keyId, created.key.id);
    if (process.platform !== 'win32') assert.equal((await stat(keyFile)).mode & 0o777, 0o600);

    const again = await loadMasterKey({ keyFile, passphrase: 'correct horse battery staple' });
    assert.equal(again.generated, false);
    assert.ok(again.key.equals(created.key));

    await assert.rejects(loadMasterKey({ keyFile, passphrase: 'wrong horse' }), {
      code: 'CRYPTO_BAD_MASTER_KEY',
    });
  });

  it('needs a file for the salt, and a valid one', async () => {
    await assert.rejects(loadMasterKey({ passphrase: 'x' }), { code: 'CRYPTO_INVALID_OPTION' });
    const weak = join(dir, 'weak.json');
    await writeFile(
      weak,
      JSON.stringify({
        kdf: 'scrypt',
        N: 1024,
        r: 8,
        p: 1,
        salt: 'AAAAAAAAAAAAAAAAAAAAAA==',
        keyId: 'x',
      }),
    );
    await assert.rejects(loadMasterKey({ keyFile: weak, passphrase: 'x' }), {
      code: 'CRYPTO_BAD_MASTER_KEY',
    });
    await assert.rejects(loadMasterKey({ keyFile: join(dir, 'none.json'), passphrase: 'x' }), {
      code: 'CRYPTO_MASTER_KEY_MISSING',
    });
  });
});
