/** Shared test helpers: vector loading and decoding, and matching a ledger error by code. */
import { readFileSync } from 'node:fs';
import { fromBase64, fromHex, isLedgerError, type LedgerErrorCode } from '../src/index.ts';

/** Parses a JSON vector file from test/vectors. */
export function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8')) as T;
}

/** Lenient std base64 for vector data (some probes hold deliberately odd lengths). */
export function b64(text: string): Uint8Array {
  return fromBase64(text) ?? new Uint8Array(Buffer.from(text, 'base64'));
}

/** Hex to bytes, failing loudly. */
export function hex(text: string): Uint8Array {
  const bytes = fromHex(text);
  if (bytes === undefined) throw new Error(`bad hex ${text}`);
  return bytes;
}

/** For `assert.throws`: the error is a LedgerError with code `want`. */
export function failsWith(want: LedgerErrorCode): (e: unknown) => boolean {
  return (e) => isLedgerError(e, want);
}
