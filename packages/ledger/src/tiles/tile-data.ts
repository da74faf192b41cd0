/** Tile contents and the set of tiles a log publishes as it grows (C2SP tlog-tiles). */
import { concatBytes } from '../encoding/bytes.ts';
import { LedgerError } from '../errors.ts';
import type { HashReader, NodeKey } from '../log/types.ts';
import { checkSize } from '../merkle/tree.ts';
import { TILE_HEIGHT, TILE_WIDTH, type TileRef } from './tile-path.ts';

/**
 * The hash tiles to (re)publish when the log grows from `oldSize` to `newSize`: every tile
 * whose width increased, partial tiles included. Entry bundles mirror the level-0 tiles.
 */
export function tilesToPublish(oldSize: number, newSize: number): TileRef[] {
  checkSize(oldSize, 'oldSize');
  checkSize(newSize, 'newSize');
  if (oldSize > newSize)
    throw new LedgerError('LEDGER_INVALID_ARGUMENT', 'oldSize is above newSize');
  const tiles: TileRef[] = [];
  for (let level = 0; Math.floor(newSize / TILE_WIDTH ** level) > 0; level++) {
    const hashesNew = Math.floor(newSize / TILE_WIDTH ** level);
    const hashesOld = Math.floor(oldSize / TILE_WIDTH ** level);
    const last = Math.ceil(hashesNew / TILE_WIDTH) - 1;
    for (let index = Math.floor(hashesOld / TILE_WIDTH); index <= last; index++) {
      const width = Math.min(TILE_WIDTH, hashesNew - index * TILE_WIDTH);
      const before = Math.max(0, Math.min(TILE_WIDTH, hashesOld - index * TILE_WIDTH));
      if (width > before) tiles.push({ level, index, width });
    }
  }
  return tiles;
}

/** Reads a hash tile's contents: `width` concatenated 32-byte hashes, in one `readNodes` call. */
export async function readTile(reader: HashReader, tile: TileRef): Promise<Uint8Array> {
  if (tile.level === 'entries') {
    throw new LedgerError('LEDGER_BAD_TILE', 'entry bundles hold log entries, not hashes');
  }
  const keys: NodeKey[] = [];
  for (let i = 0; i < tile.width; i++) {
    keys.push({ level: tile.level * TILE_HEIGHT, index: tile.index * TILE_WIDTH + i });
  }
  return concatBytes(...(await reader.readNodes(keys)));
}

/** Most bytes one bundled entry may have (uint16 length prefix). */
export const MAX_BUNDLED_ENTRY = 0xffff;

/** Encodes an entry bundle: each entry prefixed by its big-endian uint16 length. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [i, entry] of entries.entries()) {
    if (entry.length > MAX_BUNDLED_ENTRY)
      throw new LedgerError('LEDGER_BAD_TILE', `entry ${i} exceeds 65535 bytes`);
    parts.push(Uint8Array.of(entry.length >> 8, entry.length & 0xff), entry);
  }
  return concatBytes(...parts);
}

/** Decodes an entry bundle; throws `LEDGER_BAD_TILE` on truncation. */
export function decodeEntryBundle(bundle: Uint8Array): Uint8Array[] {
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at < bundle.length) {
    if (at + 2 > bundle.length) throw new LedgerError('LEDGER_BAD_TILE', 'truncated entry length');
    const length = (bundle[at]! << 8) | bundle[at + 1]!;
    if (at + 2 + length > bundle.length)
      throw new LedgerError('LEDGER_BAD_TILE', 'truncated entry');
    entries.push(bundle.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return entries;
}
