import type { RecordRow } from './types.ts';

const storedText = new WeakMap<RecordRow, string>();

/**
 * A record row whose `data` is parsed from `text`, the JSON the store holds, only when read:
 * a response can send `text` as it is (see `storedJson`) instead of parsing it and
 * serializing it again.
 */
export function rowWithStoredJson(fields: Omit<RecordRow, 'data'>, text: string): RecordRow {
  let data: Record<string, unknown> | undefined;
  const row: RecordRow = {
    ...fields,
    get data() {
      if (data === undefined) {
        data = JSON.parse(text) as Record<string, unknown>;
        storedText.delete(row);
      }
      return data;
    },
  };
  storedText.set(row, text);
  return row;
}

/**
 * The JSON text of `row.data` exactly as stored, for a row the store returned whose `data`
 * nobody has read (and so nobody can have changed): a copy (`{ ...row, data }`, as
 * decryption makes) or a row whose `data` was read gets undefined.
 */
export function storedJson(row: RecordRow): string | undefined {
  return storedText.get(row);
}
