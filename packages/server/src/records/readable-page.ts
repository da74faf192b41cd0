import type { FieldFilter, RecordRow, TenantReader } from '../store/index.ts';

/** Which records a listing may return: those its caller may read (Authorizer.recordReads). */
export interface ListingReads {
  /** Whether the caller may read the record. */
  record(collection: string, id: string): boolean;
  /** The only ids the collection's readable records can have, when that is fewer than all. */
  candidates(collection: string): readonly string[] | undefined;
}

/**
 * Which items of one kind a count may include: those `readable` lets the caller read, or,
 * when `uniform` is set, every item (true) or none (false) without reading any
 * (Authorizer.deviceReads and itemReads make these).
 */
export type CountReads<T> = ((item: T) => boolean) & { readonly uniform?: boolean | undefined };

/**
 * The first `limit` records after `after` that match the filters and that `reads` lets the
 * caller read, as if no other existed, and whether another follows (see readableRows). Only
 * records a policy names by id can be withheld from a collection the caller may list, so the
 * store is asked again at most as often as the tenant's policies name records, and when
 * `reads` narrows the collection to the ids it names, for those ids alone.
 */
export async function readablePage(
  reader: TenantReader,
  collection: string,
  query: {
    readonly after: string | undefined;
    readonly limit: number;
    readonly filters: readonly FieldFilter[];
  },
  reads: ListingReads,
): Promise<{ items: RecordRow[]; more: boolean }> {
  const ids = reads.candidates(collection);
  return readableRows(
    (after, limit) => reader.listRecords(collection, { after, limit, filters: query.filters, ids }),
    (row) => reads.record(collection, row.id),
    query.after,
    query.limit,
  );
}

/**
 * The first `limit` rows after `after`, in id order, that `readable` lets the caller see, as if
 * no other existed, and whether another follows: a row it may not see is passed over before
 * the page is cut, so it never shortens a page, never ends one (the cursor) and never decides
 * whether there is a next one. `list` is asked again, after the last row it gave, while rows
 * the caller may not see keep the page from filling.
 */
export function readableRows<T extends { readonly id: string }>(
  list: (after: string | undefined, limit: number) => Promise<readonly T[]>,
  readable: (row: T) => boolean,
  after: string | undefined,
  limit: number,
): Promise<{ items: T[]; more: boolean }> {
  return readableKeyed(list, readable, after, limit, (row) => row.id);
}

/** readableRows for rows listed in the order of another key (`key`: a collection's name). */
export async function readableKeyed<T>(
  list: (after: string | undefined, limit: number) => Promise<readonly T[]>,
  readable: (row: T) => boolean,
  after: string | undefined,
  limit: number,
  key: (row: T) => string,
): Promise<{ items: T[]; more: boolean }> {
  const items: T[] = [];
  let cursor = after;
  for (;;) {
    const rows = await list(cursor, limit + 1);
    for (const row of rows) {
      if (!readable(row)) continue;
      if (items.length === limit) return { items, more: true };
      items.push(row);
    }
    if (rows.length <= limit) return { items, more: false };
    cursor = key(rows.at(-1)!);
  }
}
