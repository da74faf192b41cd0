/** Where a JSON value holds something no store keeps as it was sent, and why. */
export interface Unstorable {
  /** JSON Pointer, relative to the value checked. */
  readonly path: string;
  readonly message: string;
}

/**
 * Deepest nesting a client's JSON may have. The ledger's canonical JSON takes 64 levels, and
 * what a client sends is wrapped in a few levels of its own (entry state, telemetry points):
 * 32 leaves that room and is far beyond what data needs.
 */
export const JSON_DEPTH_MAX = 32;

const NUL: Unstorable = { path: '', message: 'must not contain U+0000' };
const LONE_SURROGATE: Unstorable = {
  path: '',
  message: 'must be well-formed Unicode (it holds a lone surrogate escape)',
};
const NOT_FINITE: Unstorable = {
  path: '',
  message: 'must be a finite number (a number this large is ±Infinity, which JSON keeps as null)',
};
const TOO_DEEP: Unstorable = {
  path: '',
  message: `must not nest deeper than ${JSON_DEPTH_MAX} levels`,
};
const ROUNDED_INTEGER: Unstorable = {
  path: '',
  message: 'must be an integer JSON can carry exactly (up to 2^53): send a larger one as a string',
};

/** Stands, in a value parsed again from its text, for an integer JSON.parse had to round. */
const ROUNDED = Object.freeze({});

/**
 * Escapes and numbers in JSON text that may make what `unstorableJson` finds: `\u0000` (the
 * one way JSON spells U+0000), a surrogate escape (the only way to spell a lone one: raw text
 * is decoded as UTF-8, where none can exist), an exponent of three digits, 16 digits in a row.
 */
const SUSPECT_TEXT = /\\u(?:0000|[dD][89a-fA-F])|[eE]\+?\d{3}|\d{16}/;
const LONG_DIGITS = /\d{16}/;
const INTEGER_SOURCE = /^-?\d+$/;

/**
 * Whether JSON text may hold what `unstorableJson` finds (false means it cannot): text shorter
 * than two characters per level cannot nest too deep, so short bodies without a suspect escape
 * or number are never walked.
 */
export function mayBeUnstorable(text: string): boolean {
  return text.length > 2 * JSON_DEPTH_MAX || SUSPECT_TEXT.test(text);
}

/** An integer literal JSON.parse rounded: written as digits and not what it parsed to. */
function rounded(value: unknown, source: string | undefined): boolean {
  return (
    typeof value === 'number' &&
    !Number.isSafeInteger(value) &&
    Number.isFinite(value) &&
    source !== undefined &&
    INTEGER_SOURCE.test(source) &&
    BigInt(source) !== BigInt(value)
  );
}

/** `text` parsed again, each integer JSON.parse had to round replaced by ROUNDED. */
function markRounded(text: string): unknown {
  const revive = (_key: string, value: unknown, context?: { source?: string }) =>
    rounded(value, context?.source) ? ROUNDED : value;
  return JSON.parse(text, revive as (key: string, value: unknown) => unknown);
}

/**
 * What `unstorable` finds in `value`, parsed from the JSON `text`, or an integer literal that
 * JSON.parse rounded (beyond 2^53 a number written exactly would be stored changed). Walks
 * only text that `mayBeUnstorable`, and parses it again only for 16 digits in a row.
 */
export function unstorableJson(text: string, value: unknown): Unstorable | undefined {
  if (!mayBeUnstorable(text)) return undefined;
  return unstorable(value) ?? (LONG_DIGITS.test(text) ? unstorable(markRounded(text)) : undefined);
}

function checkString(value: string): Unstorable | undefined {
  if (value.includes('\u0000')) return NUL;
  return value.isWellFormed() ? undefined : LONE_SURROGATE;
}

/**
 * The first thing in `value` no store keeps as it was sent, with its JSON Pointer: U+0000 in a
 * key or string (PostgreSQL cannot store it), a lone surrogate (not Unicode: the ledger's
 * canonical JSON refuses it), a number that is not finite (JSON.parse makes ±Infinity of 1e400,
 * stored as null), or nesting deeper than JSON_DEPTH_MAX. Undefined when there is none;
 * allocates only along the path it finds. Rounded integers need the text: `unstorableJson`.
 */
export function unstorable(value: unknown, depth = 0): Unstorable | undefined {
  if (value === ROUNDED) return ROUNDED_INTEGER;
  if (typeof value === 'string') return checkString(value);
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : NOT_FINITE;
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth >= JSON_DEPTH_MAX) return TOO_DEEP;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorable(value[i], depth + 1);
      if (found !== undefined) return { ...found, path: `/${i}${found.path}` };
    }
    return undefined;
  }
  for (const key in value) {
    const found =
      checkString(key) ?? unstorable((value as Record<string, unknown>)[key], depth + 1);
    if (found !== undefined)
      return {
        ...found,
        path: `/${key.replaceAll('~', '~0').replaceAll('/', '~1')}${found.path}`,
      };
  }
  return undefined;
}
