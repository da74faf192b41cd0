/** C2SP tlog-tiles resource paths: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`. */
import { LedgerError } from '../errors.ts';

/** Hashes in a full tile. */
export const TILE_WIDTH = 256;
/** Merkle levels spanned by one tile level. */
export const TILE_HEIGHT = 8;
/** Highest tile level the spec allows. */
export const MAX_TILE_LEVEL = 63;

/** A tile (or entry bundle when `level` is `'entries'`); `width` 256 means full. */
export interface TileRef {
  readonly level: number | 'entries';
  readonly index: number;
  readonly width: number;
}

function bad(reason: string): LedgerError {
  return new LedgerError('LEDGER_BAD_TILE', reason);
}

/** Encodes a tile index as 3-digit path elements, all but the last prefixed with `x`. */
export function encodeTileIndex(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0)
    throw bad(`tile index ${index} is not a safe integer`);
  const groups: string[] = [];
  let n = index;
  do {
    groups.unshift(String(n % 1000).padStart(3, '0'));
    n = Math.floor(n / 1000);
  } while (n > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

/** The path of a tile, relative to the log prefix. */
export function tilePath(tile: TileRef): string {
  const { level, index, width } = tile;
  if (level !== 'entries' && (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL)) {
    throw bad(`tile level ${level} is outside 0..${MAX_TILE_LEVEL}`);
  }
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH)
    throw bad(`tile width ${width} is outside 1..256`);
  const suffix = width === TILE_WIDTH ? '' : `.p/${width}`;
  return `tile/${level}/${encodeTileIndex(index)}${suffix}`;
}

const SMALL_DECIMAL = /^(0|[1-9][0-9]{0,2})$/;

/** Parses a tile path strictly (no leading zeroes, `x` rules, width 1..255). */
export function parseTilePath(path: string): TileRef {
  const parts = path.split('/');
  if (parts.length < 3 || parts[0] !== 'tile') throw bad(`${path} is not a tile path`);
  const levelText = parts[1]!;
  let level: number | 'entries';
  if (levelText === 'entries') level = 'entries';
  else if (SMALL_DECIMAL.test(levelText) && Number(levelText) <= MAX_TILE_LEVEL)
    level = Number(levelText);
  else throw bad(`${path} has an invalid level`);

  let rest = parts.slice(2);
  let width = TILE_WIDTH;
  const partial = rest.length >= 2 && rest[rest.length - 2]!.endsWith('.p');
  if (partial) {
    const w = rest[rest.length - 1]!;
    if (!SMALL_DECIMAL.test(w) || Number(w) < 1 || Number(w) > 255)
      throw bad(`${path} has an invalid width`);
    width = Number(w);
    rest = [...rest.slice(0, -2), rest[rest.length - 2]!.slice(0, -2)];
  }
  let index = 0;
  for (const [i, element] of rest.entries()) {
    const last = i === rest.length - 1;
    const digits = last ? element : element.slice(1);
    if ((!last && !element.startsWith('x')) || !/^[0-9]{3}$/.test(digits)) {
      throw bad(`${path} has an invalid index element ${element}`);
    }
    index = index * 1000 + Number(digits);
  }
  if (!Number.isSafeInteger(index)) throw bad(`${path} index is too large`);
  if (rest.length > 1 && rest[0] === 'x000') throw bad(`${path} index has a leading zero group`);
  return { level, index, width };
}
