import type { SealedFields } from './key-types.ts';
import type { RecordRow } from './types.ts';

/**
 * A record row whose `data` is parsed from `text`, the JSON the store holds, only when read:
 * a response can send the text as it is (see `storedJson`) instead of parsing it and
 * serializing it again. A row with encrypted fields keeps them in `sealed`; opening it makes
 * another StoredJsonRecord whose text has the decrypted fields spliced in
 * (see `mergeStoredObjects`), so a decrypted record is not parsed and serialized either.
 *
 * `data` is a getter on the prototype: a row made as an object literal with its own getter
 * cost about 1.3 µs to make (a closure, an accessor pair and a WeakMap entry per row), this
 * class 0.03 µs. A spread copy therefore does not carry `data`; every copy names its own
 * (`{ ...row, data }`).
 */
export class StoredJsonRecord implements RecordRow {
  readonly collection: string;
  readonly id: string;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly sealed: SealedFields | undefined;
  #text: string | undefined;
  #data: Record<string, unknown> | undefined;

  constructor(fields: Omit<RecordRow, 'data' | 'sealed'>, text: string, sealed?: SealedFields) {
    this.collection = fields.collection;
    this.id = fields.id;
    this.version = fields.version;
    this.createdAt = fields.createdAt;
    this.updatedAt = fields.updatedAt;
    this.sealed = sealed;
    this.#text = text;
  }

  get data(): Record<string, unknown> {
    if (this.#data === undefined) {
      this.#data = JSON.parse(this.#text!) as Record<string, unknown>;
      this.#text = undefined;
    }
    return this.#data;
  }

  /** The stored text, until `data` is read (and so could have been changed). */
  get storedText(): string | undefined {
    return this.#text;
  }
}

/**
 * The JSON text of `row.data` exactly as stored, for a row the store returned (or a record
 * decryption made) whose `data` nobody has read and that holds no fields still encrypted; any
 * other row (a copy, a PostgreSQL row, a row not yet opened) gets undefined.
 */
export function storedJson(row: RecordRow): string | undefined {
  return row instanceof StoredJsonRecord && row.sealed === undefined ? row.storedText : undefined;
}

/**
 * The JSON text of `{ ...a, ...b }` for two JSON objects as `JSON.stringify` wrote them (no
 * whitespace): `b`'s members after `a`'s. Were a name in both, a JSON parser keeps the last,
 * `b`'s, as the spread does; record sealing never puts a field in both.
 */
export function mergeStoredObjects(a: string, b: string): string {
  if (a[0] !== '{' || a.at(-1) !== '}' || b[0] !== '{' || b.at(-1) !== '}')
    throw new TypeError('stored record data must be JSON objects');
  if (a.length === 2) return b;
  if (b.length === 2) return a;
  return `${a.slice(0, -1)},${b.slice(1)}`;
}
