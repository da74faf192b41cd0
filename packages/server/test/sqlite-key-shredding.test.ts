import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { uuid7 } from '../src/ids/index.ts';
import { SqliteControlPlaneStore } from '../src/store/sqlite/sqlite-control-plane-store.ts';

/**
 * Crypto-shredding on SQLite (the API-level test is in keys-encryption): deleting a tenant's
 * KEKs leaves none of their sealed seeds in platform.db or its WAL, and a deletion that
 * cannot empty the WAL says so instead of reporting success.
 */
test('deleted KEKs leave no sealed seed in platform.db or its WAL; a held checkpoint fails the deletion', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'palisade-shred-'));
  const path = join(folder, 'platform.db');
  const store = new SqliteControlPlaneStore(path);
  t.after(async () => {
    await store.close();
    rmSync(folder, { recursive: true, force: true });
  });
  await store.migrate();
  const tenantId = uuid7();
  await store.registerShards([{ id: 's1', location: join(folder, 'shards', 's1') }]);
  await store.insertTenant({
    id: tenantId,
    slug: 'shredded',
    name: 'Shredded',
    plan: 'free',
    status: 'active',
    shard: 's1',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  });
  const sealedSeed = Buffer.from('sealed-seed-of-the-shredded-tenant-0123456789');
  await store.keys.insertKek({
    tenantId,
    version: 1,
    publicKey: new Uint8Array(32),
    sealedSeed,
    createdAt: '2026-01-01T00:00:00.000Z',
  });
  const holdsSeed = () =>
    ['', '-wal']
      .map((suffix) => {
        try {
          return readFileSync(`${path}${suffix}`);
        } catch {
          return Buffer.alloc(0);
        }
      })
      .some((bytes) => bytes.includes(sealedSeed));
  assert.ok(holdsSeed(), 'the seed is on disk before deletion (the check can see it)');

  // Another connection reading keeps the checkpoint from copying and emptying the WAL.
  const reader = new DatabaseSync(path, { readOnly: true });
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM tenant_keks').get();
  await assert.rejects(store.keys.deleteKeks(tenantId), /still in platform\.db-wal/);
  reader.exec('COMMIT');
  reader.close();

  await store.keys.deleteKeks(tenantId);
  assert.deepEqual(await store.keys.listKeks(tenantId), []);
  assert.ok(!holdsSeed(), 'no byte of the sealed seed is left in platform.db or its WAL');
});
