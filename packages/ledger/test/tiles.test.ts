import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  appendLeaves,
  decodeEntryBundle,
  encodeEntryBundle,
  encodeTileIndex,
  isLedgerError,
  MemoryHashStore,
  parseTilePath,
  readTile,
  rootFromLeafHashes,
  tilePath,
  tilesToPublish,
} from '../src/index.ts';
import { nodeHasher as hasher } from '../src/node/index.ts';

const bad = (e: unknown) => isLedgerError(e, 'LEDGER_BAD_TILE');

describe('tlog-tiles paths', () => {
  it('encodes indices as x### elements (spec examples)', () => {
    assert.equal(encodeTileIndex(1234067), 'x001/x234/067');
    assert.equal(encodeTileIndex(0), '000');
    assert.equal(encodeTileIndex(999), '999');
    assert.equal(encodeTileIndex(1000), 'x001/000');
    assert.equal(tilePath({ level: 0, index: 1234067, width: 256 }), 'tile/0/x001/x234/067');
    assert.equal(tilePath({ level: 2, index: 5, width: 17 }), 'tile/2/005.p/17');
    assert.equal(
      tilePath({ level: 'entries', index: 1000, width: 3 }),
      'tile/entries/x001/000.p/3',
    );
  });

  it('parses what it formats and rejects anything else', () => {
    for (const ref of [
      { level: 0, index: 1234067, width: 256 },
      { level: 63, index: 0, width: 1 },
      { level: 'entries' as const, index: 42, width: 255 },
    ]) {
      assert.deepEqual(parseTilePath(tilePath(ref)), ref);
    }
    for (const path of [
      'tile/00/000',
      'tile/64/000',
      'tile/0/0',
      'tile/0/001/002',
      'tile/0/x000/001',
      'tile/0/000.p/0',
      'tile/0/000.p/256',
      'tile/0/000.p/01',
      'tiles/0/000',
      'tile/0',
      'tile/x/000',
    ]) {
      assert.throws(() => parseTilePath(path), bad, path);
    }
    assert.throws(() => tilePath({ level: 64, index: 0, width: 1 }), bad);
    assert.throws(() => tilePath({ level: 0, index: -1, width: 1 }), bad);
    assert.throws(() => tilePath({ level: 0, index: 0, width: 0 }), bad);
  });

  it('lists the spec example tiles for a tree of 70,000', () => {
    const tiles = tilesToPublish(0, 70_000);
    const partial = tiles.filter((t) => t.width < 256).map(tilePath);
    assert.deepEqual(partial, ['tile/0/273.p/112', 'tile/1/001.p/17', 'tile/2/000.p/1']);
    assert.equal(tiles.filter((t) => t.level === 0 && t.width === 256).length, 273);
    assert.equal(tiles.filter((t) => t.level === 1 && t.width === 256).length, 1);
    assert.deepEqual(tilesToPublish(0, 256).map(tilePath), ['tile/0/000', 'tile/1/000.p/1']);
    assert.deepEqual(tilesToPublish(256, 256), []);
    assert.deepEqual(tilesToPublish(300, 513).map(tilePath), [
      'tile/0/001',
      'tile/0/002.p/1',
      'tile/1/000.p/2',
    ]);
  });
});

describe('tile contents', () => {
  it('serves concatenated subtree hashes that rebuild the root', async () => {
    const leaves = Array.from({ length: 70_000 }, (_, i) =>
      hasher.leafHash(new Uint8Array([i & 255, i >> 8])),
    );
    const store = new MemoryHashStore();
    store.writeNodes((await appendLeaves(hasher, store, 0, leaves)).nodes);
    const level0 = await readTile(store, { level: 0, index: 1, width: 256 });
    assert.equal(level0.length, 256 * 32);
    assert.deepEqual(level0.subarray(0, 32), new Uint8Array(leaves[256]!));
    // Level-1 hashes are roots of full level-0 tiles.
    const level1 = await readTile(store, { level: 1, index: 1, width: 17 });
    assert.deepEqual(
      level1.subarray(16 * 32),
      new Uint8Array(rootFromLeafHashes(hasher, leaves.slice(272 * 256, 273 * 256))),
    );
    await assert.rejects(readTile(store, { level: 'entries', index: 0, width: 1 }), bad);
  });

  it('round-trips entry bundles', () => {
    const entries = [new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(300).fill(9)];
    const bundle = encodeEntryBundle(entries);
    assert.deepEqual(decodeEntryBundle(bundle), entries);
    assert.throws(() => decodeEntryBundle(bundle.subarray(0, bundle.length - 1)), bad);
    assert.throws(() => decodeEntryBundle(new Uint8Array([0])), bad);
    assert.throws(() => encodeEntryBundle([new Uint8Array(70_000)]), bad);
  });
});
