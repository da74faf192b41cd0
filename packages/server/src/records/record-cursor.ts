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
  if (!isUuid(id) || encodeCursor(id) !== cursor) throw invalidCursor();
  return id;
}

/**
 * A listing ordered by name (collections, roles) has the last name of the page as its cursor,
 * encoded as ids are; any name of a collection or a role can be one.
 */
const NAME_CURSOR = /^[a-z][a-z0-9_-]{0,62}$/;

/** Throws PALISADE_INVALID_CURSOR for anything `encodeCursor` did not make of a name. */
export function decodeNameCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const name = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!NAME_CURSOR.test(name) || encodeCursor(name) !== cursor) throw invalidCursor();
  return name;
}

/** The items a listing by name found (see readableKeyed), and the cursor of the next page. */
export function namePage<T extends { name: string }>(found: {
  readonly items: T[];
  readonly more: boolean;
}) {
  return {
    items: found.items,
    nextCursor: found.more ? encodeCursor(found.items.at(-1)!.name) : null,
  };
}

function invalidCursor(): PalisadeError {
  return new PalisadeError(
    'PALISADE_INVALID_CURSOR',
    'the cursor is not one this server issued; start again without it',
  );
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
