import type { FieldFilter, RecordRow, TenantReader } from '../store/index.ts';

/** Which records a listing may return: those its caller may read (Authorizer.recordReads). */
export interface ListingReads {
  /** Whether the caller may read the record. */
  record(collection: string, id: string): boolean;
  /** The only ids the collection's readable records can have, when that is fewer than all. */
  candidates(collection: string): readonly string[] | undefined;
}

/**
 * The first `limit` records after `after` that match the filters and that `reads` lets the
 * caller read, as if no other existed, and whether another follows: a record it may not read
 * is passed over before the page is cut, so it never shortens a page, never ends one (the
 * cursor) and never decides whether there is a next one. The store is asked again, after the
 * last row it gave, while records the caller may not read keep the page from filling: only
 * records a policy names by id can be such, so that is bounded by the tenant's policies, as
 * is the scan when `reads` narrows the collection to the ids it names.
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
  const items: RecordRow[] = [];
  let after = query.after;
  for (;;) {
    const rows = await reader.listRecords(collection, {
      after,
      limit: query.limit + 1,
      filters: query.filters,
      ids,
    });
    for (const row of rows) {
      if (!reads.record(collection, row.id)) continue;
      if (items.length === query.limit) return { items, more: true };
      items.push(row);
    }
    if (rows.length <= query.limit) return { items, more: false };
    after = rows.at(-1)!.id;
  }
}
