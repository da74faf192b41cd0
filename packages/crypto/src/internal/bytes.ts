/**
 * Byte helpers shared by the binary formats: unambiguous (length-prefixed) encoding of
 * context strings, big-endian integers, and a bounds-checked reader that turns every
 * truncation into `CRYPTO_BAD_HEADER`.
 */
import { timingSafeEqual } from 'node:crypto';
import { CryptoError } from '../errors.ts';

/** Longest UTF-8 encoding, in bytes, of any context string (tenant id, collection, field…). */
export const CONTEXT_STRING_MAX_BYTES = 255;

/** Largest key version (versions are unsigned 32-bit integers, starting at 1). */
export const KEY_VERSION_MAX = 0xffff_ffff;

const encoder = new TextEncoder();

/**
 * UTF-8 length of a context string. Rejects empty, over-long and not well-formed strings (a
 * lone surrogate would encode to U+FFFD and collide with a different string).
 */
export function contextLength(name: string, value: unknown): number {
  if (typeof value !== 'string' || value.length === 0) {
    throw new CryptoError('CRYPTO_BAD_CONTEXT', `${name} must be a non-empty string`);
  }
  if (!value.isWellFormed()) {
    throw new CryptoError('CRYPTO_BAD_CONTEXT', `${name} is not well-formed Unicode`);
  }
  const length = Buffer.byteLength(value, 'utf8');
  if (length > CONTEXT_STRING_MAX_BYTES) {
    throw new CryptoError(
      'CRYPTO_BAD_CONTEXT',
      `${name} is longer than ${CONTEXT_STRING_MAX_BYTES} bytes of UTF-8`,
    );
  }
  return length;
}

/** UTF-8 bytes of a context string, validated as {@link contextLength} does. */
export function contextString(name: string, value: unknown): Uint8Array {
  contextLength(name, value);
  return encoder.encode(value as string);
}

/**
 * Writes lp(value) into `out` at `offset`, `length` being the value's UTF-8 length as
 * {@link contextLength} returned it; returns the offset after it. For hot formats, where
 * `ByteWriter`'s small arrays cost more than the cipher call.
 */
export function writeShortString(
  out: Buffer,
  offset: number,
  value: string,
  length: number,
): number {
  out[offset] = length;
  out.write(value, offset + 1, length, 'utf8');
  return offset + 1 + length;
}

/** Checks that `value` is a key version: an integer in 1..KEY_VERSION_MAX. */
export function keyVersion(name: string, value: unknown): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 1 ||
    value > KEY_VERSION_MAX
  ) {
    throw new CryptoError(
      'CRYPTO_BAD_CONTEXT',
      `${name} must be an integer in 1..${KEY_VERSION_MAX}`,
    );
  }
  return value;
}

/** Appends fields to a growing list and concatenates them once. */
export class ByteWriter {
  readonly #parts: Uint8Array[] = [];
  #length = 0;

  bytes(value: Uint8Array): this {
    this.#parts.push(value);
    this.#length += value.length;
    return this;
  }

  u8(value: number): this {
    return this.bytes(Uint8Array.of(value));
  }

  u32(value: number): this {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value);
    return this.bytes(out);
  }

  /** A string of at most 255 bytes, prefixed by its one-byte length. */
  shortBytes(value: Uint8Array): this {
    return this.u8(value.length).bytes(value);
  }

  finish(): Buffer {
    return Buffer.concat(this.#parts, this.#length);
  }
}

/** Reads fields in order; any read past the end throws `CRYPTO_BAD_HEADER`. */
export class ByteReader {
  readonly #data: Uint8Array;
  #offset = 0;

  constructor(data: Uint8Array) {
    this.#data = data;
  }

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.#data.length - this.#offset;
  }

  /** Moves past `length` bytes; returns where they start. */
  #take(length: number, what: string): number {
    if (length > this.remaining) {
      throw new CryptoError('CRYPTO_BAD_HEADER', `truncated input: ${what} is incomplete`);
    }
    const at = this.#offset;
    this.#offset += length;
    return at;
  }

  bytes(length: number, what: string): Uint8Array {
    const at = this.#take(length, what);
    return this.#data.subarray(at, at + length);
  }

  u8(what: string): number {
    return this.#data[this.#take(1, what)]!;
  }

  u32(what: string): number {
    const at = this.#take(4, what);
    const b = this.#data;
    return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  }

  shortBytes(what: string): Uint8Array {
    return this.bytes(this.u8(what), what);
  }
}

/** A `Buffer` view of `bytes` without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * Constant-time equality of two byte strings (the comparison time depends only on the
 * lengths). Unlike `crypto.timingSafeEqual` it returns false for different lengths instead of
 * throwing.
 */
export function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}
