import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { InputError, PalisadeError, type ProblemDetail } from '../errors/index.ts';
import { linearRegExp, refusedPatterns } from './schema-patterns.ts';

/** Compiled record validators kept at once; keyed by tenant, collection and schema version. */
const VALIDATOR_CACHE_MAX = 1024;

/**
 * Compiles tenants' collection schemas (JSON Schema 2020-12, strict mode, no remote refs)
 * and validates records against them. The cache key starts with the tenant id, so one
 * tenant's schema can never validate another tenant's record.
 */
export class SchemaRegistry {
  readonly #ajv: Ajv2020;
  readonly #cache = new Map<string, ValidateFunction>();

  constructor() {
    this.#ajv = new Ajv2020({
      allErrors: true,
      strict: true,
      validateFormats: true,
      code: { regExp: linearRegExp },
    });
    (addFormats as unknown as (ajv: Ajv2020) => void)(this.#ajv);
  }

  /**
   * Ajv registers a schema's `$id` before compiling it and keeps it when the compile fails, so
   * it is removed either way: one tenant's broken schema must not claim an `$id` for all.
   */
  #compile(schema: object): ValidateFunction {
    try {
      return this.#ajv.compile(schema);
    } finally {
      this.#ajv.removeSchema(schema);
    }
  }

  /**
   * Throws PALISADE_INVALID_SCHEMA unless `schema` is a compilable object schema whose
   * properties include the `encrypted` fields (an InputError naming those two inputs).
   */
  check(schema: Record<string, unknown>, encrypted: readonly string[]): void {
    if (schema.type !== 'object') {
      throw new InputError(
        'PALISADE_INVALID_SCHEMA',
        'a collection schema must have "type": "object"',
        [{ input: 'schema', at: '/type', message: 'must be "object"' }],
      );
    }
    const refused = refusedPatterns(schema, '');
    if (refused.length > 0) {
      throw new InputError(
        'PALISADE_INVALID_SCHEMA',
        'every pattern must be one that RE2 runs in linear time',
        refused.map(({ path, message }) => ({ input: 'schema', at: path, message })),
      );
    }
    try {
      this.#compile(schema);
    } catch (error) {
      throw new PalisadeError(
        'PALISADE_INVALID_SCHEMA',
        `the schema does not compile: ${(error as Error).message}`,
      );
    }
    const properties = (schema.properties ?? {}) as Record<string, unknown>;
    const undeclared = encrypted.filter((field) => !Object.hasOwn(properties, field));
    if (undeclared.length > 0) {
      throw new InputError(
        'PALISADE_INVALID_SCHEMA',
        'every encrypted field must be a top-level property of the schema',
        undeclared.map((field) => ({
          input: 'encrypted',
          at: '',
          message: `${JSON.stringify(field)} is not in schema.properties`,
        })),
      );
    }
  }

  /** Throws PALISADE_RECORD_INVALID naming each failing JSON path of `data`. */
  validate(
    key: { tenantId: string; collection: string; version: number },
    schema: object,
    data: unknown,
  ): void {
    const cacheKey = `${key.tenantId}\u0000${key.collection}\u0000${key.version}`;
    let validate = this.#cache.get(cacheKey);
    if (validate === undefined) {
      const refused = refusedPatterns(schema, '/schema');
      if (refused.length > 0) {
        throw new PalisadeError(
          'PALISADE_INVALID_SCHEMA',
          `the schema of ${key.collection} has a pattern RE2 cannot run: define the collection again`,
          refused,
        );
      }
      validate = this.#compile(schema);
      this.#cache.set(cacheKey, validate);
      if (this.#cache.size > VALIDATOR_CACHE_MAX)
        this.#cache.delete(this.#cache.keys().next().value!);
    }
    if (validate(data)) return;
    const errors: ProblemDetail[] = (validate.errors ?? []).map((e) => {
      const extra =
        (e.params as { additionalProperty?: string; missingProperty?: string })
          .additionalProperty ?? (e.params as { missingProperty?: string }).missingProperty;
      return {
        path: `${e.instancePath}${extra === undefined ? '' : `/${extra}`}` || '/',
        message: e.message ?? 'invalid',
      };
    });
    throw new PalisadeError(
      'PALISADE_RECORD_INVALID',
      `the record does not match the schema of ${key.collection}`,
      errors,
    );
  }
}
