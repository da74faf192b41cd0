import { PalisadeError, type ProblemDetail } from '../errors/index.ts';

/**
 * The edge rule language as JSON Schema: the route validates with it (precise paths in the
 * problem) and OpenAPI documents it. What a schema cannot say (an alert's `below` under its
 * `above`, alert names unique in a set) is `checkRules`. The agent parses the same language
 * again (`@palisade/edge` rules/parse-rules.ts) before it applies a cached or pulled set.
 */
const KEY = { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' } as const;
const NUMBER = { type: 'number' } as const;
const KEYS = { type: 'array', minItems: 1, maxItems: 256, items: KEY } as const;

/** Most rules in one set. */
export const EDGE_RULES_MAX = 64;
/** Longest downsample window (one day). */
export const EDGE_WINDOW_MAX_MS = 86_400_000;

const KINDS = {
  filter: {
    properties: { kind: {}, keep: KEYS, drop: KEYS },
    oneOf: [{ required: ['keep'] }, { required: ['drop'] }],
  },
  rename: { required: ['from', 'to'], properties: { kind: {}, from: KEY, to: KEY } },
  scale: {
    required: ['key', 'factor'],
    properties: { kind: {}, key: KEY, factor: NUMBER, offset: NUMBER },
  },
  deadband: {
    required: ['key', 'delta'],
    properties: { kind: {}, key: KEY, delta: { type: 'number', minimum: 0 } },
  },
  downsample: {
    required: ['key', 'windowMs', 'aggregate'],
    properties: {
      kind: {},
      key: KEY,
      windowMs: { type: 'integer', minimum: 1, maximum: EDGE_WINDOW_MAX_MS },
      aggregate: { enum: ['mean', 'min', 'max', 'sum', 'count', 'last'] },
    },
  },
  alert: {
    required: ['name', 'key'],
    properties: { kind: {}, name: KEY, key: KEY, above: NUMBER, below: NUMBER },
    anyOf: [{ required: ['above'] }, { required: ['below'] }],
  },
} as const;

export const EDGE_RULE = {
  type: 'object',
  required: ['kind'],
  properties: { kind: { enum: Object.keys(KINDS) } },
  allOf: Object.entries(KINDS).map(([kind, then]) => ({
    if: { properties: { kind: { const: kind } }, required: ['kind'] },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword
    then: { ...then, additionalProperties: false },
  })),
} as const;

export const EDGE_RULES = { type: 'array', maxItems: EDGE_RULES_MAX, items: EDGE_RULE } as const;

/** Stored rules as answers carry them (serialized as stored; EDGE_RULES checked them going in). */
export const EDGE_RULES_STORED = {
  type: 'array',
  items: {
    type: 'object',
    required: ['kind'],
    properties: { kind: { enum: Object.keys(KINDS) } },
    additionalProperties: true,
  },
} as const;

interface AlertShape {
  kind: 'alert';
  name: string;
  above?: number;
  below?: number;
}

/** The checks a schema cannot make; `rules` already passed EDGE_RULES. */
export function checkRules(rules: readonly Record<string, unknown>[]): void {
  const details: ProblemDetail[] = [];
  const names = new Set<string>();
  rules.forEach((rule, i) => {
    if (rule.kind !== 'alert') return;
    const alert = rule as unknown as AlertShape;
    if (alert.above !== undefined && alert.below !== undefined && alert.below >= alert.above)
      details.push({ path: `/body/rules/${i}/below`, message: 'must be less than above' });
    if (names.has(alert.name))
      details.push({ path: `/body/rules/${i}/name`, message: 'is used by another alert' });
    names.add(alert.name);
  });
  const first = details[0];
  if (first !== undefined)
    throw new PalisadeError(
      'PALISADE_EDGE_RULES_INVALID',
      `${first.path} ${first.message}`,
      details,
    );
}
