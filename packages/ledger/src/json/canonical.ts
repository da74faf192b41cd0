/**
 * RFC 8785 JSON Canonicalization Scheme. Object keys are sorted by UTF-16 code units,
 * numbers use ECMAScript serialization (what `JSON.stringify` emits), strings use JSON's
 * minimal escaping. Values that JSON cannot represent exactly are rejected, never dropped.
 */
import { LedgerError } from '../errors.ts';

function bad(path: string, reason: string): LedgerError {
  return new LedgerError('LEDGER_BAD_JSON', `${path}: ${reason}`);
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function serializeString(value: string, path: string): string {
  if (!value.isWellFormed()) throw bad(path, 'string contains a lone surrogate');
  return JSON.stringify(value);
}

function serialize(value: unknown, path: string, depth: number): string {
  if (depth > MAX_JSON_DEPTH) throw bad(path, `nesting deeper than ${MAX_JSON_DEPTH}`);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw bad(path, `${value} is not a finite number`);
      return JSON.stringify(value);
    case 'string':
      return serializeString(value, path);
    case 'object':
      break;
    default:
      throw bad(path, `${typeof value} is not a JSON value`);
  }
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw bad(`${path}[${i}]`, 'a hole in a sparse array is not a JSON value');
      items.push(serialize(value[i], `${path}[${i}]`, depth + 1));
    }
    return `[${items.join(',')}]`;
  }
  if (!isPlainObject(value)) throw bad(path, 'only plain objects and arrays are JSON');
  const keys = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const members = keys.map((key) => {
    const keyPath = `${path}.${key}`;
    return `${serializeString(key, keyPath)}:${serialize(value[key], keyPath, depth + 1)}`;
  });
  return `{${members.join(',')}}`;
}

/** Thrown by `fast` at the first value it cannot serialize; `serialize` then names the path. */
const UNSERIALIZABLE = Symbol('unserializable');

/** Printable ASCII but `"` and `\`: the strings JSON writes as they are, between quotes. */
const VERBATIM = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A string's JSON; most keys and values are plain ASCII and need no call into JSON.stringify. */
function quote(value: string): string {
  if (VERBATIM.test(value)) return `"${value}"`;
  if (!value.isWellFormed()) throw UNSERIALIZABLE;
  return JSON.stringify(value);
}

/**
 * `serialize` without tracking the path (building a path string per value costs more than
 * the output itself on large batches); it gives up at the first bad value.
 */
function fast(value: unknown, depth: number): string {
  if (depth > MAX_JSON_DEPTH) throw UNSERIALIZABLE;
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw UNSERIALIZABLE;
      return String(value); // what JSON.stringify gives a finite number
    case 'string':
      return quote(value);
    case 'object':
      break;
    default:
      throw UNSERIALIZABLE;
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw UNSERIALIZABLE;
      out += (i === 0 ? '' : ',') + fast(value[i], depth + 1);
    }
    return `${out}]`;
  }
  if (!isPlainObject(value)) throw UNSERIALIZABLE;
  // The default sort compares UTF-16 code units, as RFC 8785 asks.
  const keys = Object.keys(value).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    out += `${i === 0 ? '' : ','}${quote(key)}:${fast(value[key], depth + 1)}`;
  }
  return `${out}}`;
}

/** Deepest nesting accepted, to bound recursion on untrusted input. */
export const MAX_JSON_DEPTH = 64;

/**
 * The RFC 8785 canonical form of `value`. Throws `LEDGER_BAD_JSON` (naming the path) for
 * non-finite numbers, lone surrogates, `undefined`, array holes, functions, bigints, symbols
 * and non-plain objects.
 */
export function canonicalJson(value: unknown): string {
  try {
    return fast(value, 0);
  } catch (error) {
    if (error !== UNSERIALIZABLE) throw error;
    return serialize(value, '$', 0);
  }
}

/**
 * Parses `text` as JSON and checks it is already canonical (so its bytes are the bytes
 * that were hashed). Throws `LEDGER_BAD_JSON` otherwise.
 */
export function parseCanonicalJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw bad('$', `not JSON (${(error as Error).message})`);
  }
  if (canonicalJson(value) !== text) throw bad('$', 'JSON is not in RFC 8785 canonical form');
  return value;
}
