import RE2 from 're2';
import type { ProblemDetail } from '../errors/index.ts';

/** JSON Schema 2020-12 keywords whose value is a subschema, a list of them, or a map of them. */
const ONE = [
  'additionalProperties',
  'contains',
  'else',
  'if',
  'items',
  'not',
  'propertyNames',
  'then',
  'unevaluatedItems',
  'unevaluatedProperties',
];
const LIST = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const MAP = ['$defs', 'definitions', 'dependentSchemas', 'patternProperties', 'properties'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const pointerToken = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

/** Each regular expression of a schema (`pattern` values, `patternProperties` keys) and where. */
function* schemaPatterns(schema: unknown, at: string): Generator<{ at: string; pattern: string }> {
  if (!isObject(schema)) return;
  if (typeof schema.pattern === 'string') yield { at: `${at}/pattern`, pattern: schema.pattern };
  if (isObject(schema.patternProperties))
    for (const key of Object.keys(schema.patternProperties))
      yield { at: `${at}/patternProperties/${pointerToken(key)}`, pattern: key };
  for (const keyword of ONE) yield* schemaPatterns(schema[keyword], `${at}/${keyword}`);
  for (const keyword of LIST) {
    const list = schema[keyword];
    if (Array.isArray(list))
      for (const [i, sub] of list.entries()) yield* schemaPatterns(sub, `${at}/${keyword}/${i}`);
  }
  for (const keyword of MAP) {
    const map = schema[keyword];
    if (isObject(map))
      for (const [name, sub] of Object.entries(map))
        yield* schemaPatterns(sub, `${at}/${keyword}/${pointerToken(name)}`);
  }
}

/**
 * Ajv's regular-expression engine for tenants' schemas. A backtracking RegExp lets one
 * tenant's pattern and record hold the event loop for minutes, so every tenant's; RE2 runs
 * in time linear in the input, and refuses what needs backtracking (lookaround,
 * backreferences).
 */
export const linearRegExp = Object.assign(
  (pattern: string, flags: string) => new RE2(pattern, flags),
  { code: 'require("re2")' },
);

/** The schema's patterns that RE2 refuses, each with its JSON pointer under `at`. */
export function refusedPatterns(schema: object, at: string): ProblemDetail[] {
  const refused: ProblemDetail[] = [];
  for (const { at: path, pattern } of schemaPatterns(schema, at)) {
    try {
      new RE2(pattern, 'u');
    } catch (error) {
      refused.push({
        path,
        message: `is not a pattern RE2 can run (no lookaround or backreferences): ${(error as Error).message}`,
      });
    }
  }
  return refused;
}
