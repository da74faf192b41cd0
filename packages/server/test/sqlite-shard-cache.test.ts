import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { uuid7 } from '../src/ids/index.ts';
import { SqliteShardStore } from '../src/store/sqlite/sqlite-shard-store.ts';

/**
 * The bounded cache of open tenant files may evict a store a caller still holds; the caller's
 * reads and writes go on, through the tenant's one live store (records-api covers the same
 * through the API under concurrency).
 */
test('a store evicted while held: its writes land once, its reader still reads, no second writer', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'palisade-shard-cache-'));
  const shard = new SqliteShardStore('s1', folder, 1);
  t.after(async () => {
    await shard.close();
    rmSync(folder, { recursive: true, force: true });
  });
  const collection = (name: string) => ({
    name,
    schema: { type: 'object' },
    encrypted: [],
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  });
  const a = await shard.tenant(uuid7());
  const heldReader = a.reader;
  await a.transaction(async (tx) => tx.putCollection(collection('first')));

  await shard.tenant(uuid7()); // evicts a: the cache holds one file
  await a.transaction(async (tx) => tx.putCollection(collection('second')));
  const names = async (reader: typeof heldReader) =>
    (await reader.listCollections({ after: undefined, limit: 100 })).map((c) => c.name);
  assert.deepEqual(await names(heldReader), ['first', 'second'], 'a reader taken before eviction');
  assert.deepEqual(await names(a.reader), ['first', 'second']);
  const live = await shard.tenant(a.tenantId);
  assert.notEqual(live, a, 'a new store serves the tenant');
  assert.deepEqual(await names(live.reader), ['first', 'second']);

  // Writes through the evicted store and the live one share one queue: none is lost.
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? a : live).transaction(async (tx) =>
        tx.putCollection(collection(`c${String(i).padStart(2, '0')}`)),
      ),
    ),
  );
  assert.equal((await names(live.reader)).length, 22);
});
