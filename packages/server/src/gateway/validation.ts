import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

/**
 * Request validation: bodies are checked strictly (no type coercion, nothing removed, unknown
 * fields refused by each schema's additionalProperties: false), while path, query and header
 * values, which are always strings on the wire, are coerced to their declared types.
 */
export function installValidators(app: FastifyInstance): void {
  const strict = new Ajv.default({
    allErrors: true,
    coerceTypes: false,
    removeAdditional: false,
    useDefaults: true,
    strict: false,
  });
  const coercing = new Ajv.default({
    allErrors: true,
    coerceTypes: true,
    removeAdditional: false,
    useDefaults: true,
    strict: false,
  });
  for (const ajv of [strict, coercing]) (addFormats as unknown as (a: typeof ajv) => void)(ajv);
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema),
  );
}
