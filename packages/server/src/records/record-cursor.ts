import { PalisadeError } from '../errors/index.ts';
import { isUuid } from '../ids/index.ts';

/** A listing's `limit` when the request names none, unless `pageSizeMax` is less. */
const PAGE_LIMIT_DEFAULT = 100;

/** The `limit` of a listing that names none, within `pageSizeMax`. */
export function defaultPageLimit(pageSizeMax: number): number {
  return Math.min(PAGE_LIMIT_DEFAULT, pageSizeMax);
}

/** Cursors are opaque to clients: the last id of the page, base64url-encoded. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

/** Throws PALISADE_INVALID_CURSOR for anything `encodeCursor` did not make. */
export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isUuid(id) || encodeCursor(id) !== cursor) {
    throw new PalisadeError(
      'PALISADE_INVALID_CURSOR',
      'the cursor is not one this server issued; start again without it',
    );
  }
  return id;
}

/** The items a listing found (see readableRows), and the cursor of the next page when more follow. */
export function cursorPage<T extends { id: string }>(found: {
  readonly items: T[];
  readonly more: boolean;
}) {
  return {
    items: found.items,
    nextCursor: found.more ? encodeCursor(found.items.at(-1)!.id) : null,
  };
}

/** The first `limit` of `limit + 1` rows, and the cursor of the next page when there is one. */
export function page<T extends { id: string }>(rows: readonly T[], limit: number) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.id) : null,
  };
}
