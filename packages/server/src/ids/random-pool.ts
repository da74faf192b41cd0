import { randomFillSync } from 'node:crypto';

/** Bytes drawn from the CSPRNG at once; small draws (salts, ids) are sliced from them. */
const POOL_BYTES = 8192;

let pool = Buffer.allocUnsafe(0);
let offset = 0;

/**
 * `size` fresh random bytes. One `randomFillSync` call per pool instead of one per id or
 * salt (it was ~8% of a record create). Each pool is a new buffer, so a slice handed out is
 * never overwritten.
 */
export function randomBytesFromPool(size: number): Buffer {
  if (size > POOL_BYTES) return randomFillSync(Buffer.allocUnsafe(size));
  if (offset + size > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + size);
  offset += size;
  return bytes;
}
