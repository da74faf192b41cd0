/** Where a JSON value holds something no store keeps as it was sent, and why. */
export interface Unstorable {
  /** JSON Pointer, relative to the value checked. */
  readonly path: string;
  readonly message: string;
}

const NUL: Unstorable = { path: '', message: 'must not contain U+0000' };
const NOT_FINITE: Unstorable = {
  path: '',
  message: 'must be a finite number (a number this large is ±Infinity, which JSON keeps as null)',
};

/**
 * Text that may hold what `unstorable` finds: the `\u0000` escape (the one way JSON spells
 * U+0000), or a number too large for a double (an exponent of three digits, or 309 digits).
 * Cheap enough for every body; only a match is walked.
 */
const SUSPECT_JSON = /\\u0000|[eE]\+?\d{3}|\d{309}/;

/** Whether JSON text may hold what `unstorable` finds (false means it cannot). */
export function mayBeUnstorable(text: string): boolean {
  return SUSPECT_JSON.test(text);
}

/**
 * The first key or string holding U+0000 (PostgreSQL cannot store it, so no backend takes it)
 * or number that is not finite (JSON.parse makes ±Infinity of 1e400, and it would be stored
 * as null), with its JSON Pointer; undefined when there is none. Allocates only along the
 * path it finds.
 */
export function unstorable(value: unknown): Unstorable | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? NUL : undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : NOT_FINITE;
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorable(value[i]);
      if (found !== undefined) return { ...found, path: `/${i}${found.path}` };
    }
    return undefined;
  }
  for (const key in value) {
    const found = key.includes('\u0000')
      ? NUL
      : unstorable((value as Record<string, unknown>)[key]);
    if (found !== undefined)
      return {
        ...found,
        path: `/${key.replaceAll('~', '~0').replaceAll('/', '~1')}${found.path}`,
      };
  }
  return undefined;
}
