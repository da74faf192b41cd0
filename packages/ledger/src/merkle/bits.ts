/**
 * Bit arithmetic on tree sizes and indices up to 2^53 - 1. JavaScript's bitwise operators
 * work on 32 bits, so these split values into high and low words.
 */

const TWO_32 = 2 ** 32;

function split(x: number): [hi: number, lo: number] {
  return [Math.floor(x / TWO_32), x >>> 0];
}

/** Number of bits needed to represent `x` (Go's bits.Len64). */
export function bitLength(x: number): number {
  const [hi, lo] = split(x);
  return hi !== 0 ? 64 - Math.clz32(hi) : 32 - Math.clz32(lo);
}

/** Number of set bits (Go's bits.OnesCount64). */
export function onesCount(x: number): number {
  const [hi, lo] = split(x);
  return popcount32(hi) + popcount32(lo);
}

function popcount32(v: number): number {
  let n = v - ((v >>> 1) & 0x55555555);
  n = (n & 0x33333333) + ((n >>> 2) & 0x33333333);
  return (((n + (n >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Number of trailing zero bits; 64 for zero (Go's bits.TrailingZeros64). */
export function trailingZeros(x: number): number {
  if (x === 0) return 64;
  const [hi, lo] = split(x);
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  return 63 - Math.clz32(hi & -hi);
}

/** `a XOR b` for non-negative safe integers. */
export function xor(a: number, b: number): number {
  const [ah, al] = split(a);
  const [bh, bl] = split(b);
  return ((ah ^ bh) >>> 0) * TWO_32 + ((al ^ bl) >>> 0);
}

/** `x >> n` for non-negative safe integers. */
export function shiftRight(x: number, n: number): number {
  return Math.floor(x / 2 ** n);
}

/** Bit `n` of `x` (0 or 1). */
export function bitAt(x: number, n: number): number {
  return shiftRight(x, n) % 2;
}

/** Largest power of two strictly less than `n` (n ≥ 2). */
export function splitPoint(n: number): number {
  return 2 ** (bitLength(n - 1) - 1);
}

/** True when `x` is a safe non-negative integer. */
export function isSize(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}
