import type { FastifyBodyParser, FastifyRequest } from 'fastify';
import { PalisadeError } from '../errors/index.ts';
import { nulPath } from '../store/index.ts';

type JsonParser = FastifyBodyParser<string>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route refuses U+0000 itself, item by item, so one bad item cannot refuse the rest
     * (a signed edge batch answers its refusals by index).
     */
    nulPerItem?: true;
  }
}

/**
 * Fastify's JSON parser (prototype poisoning refused), refusing a body with U+0000 in a key
 * or string: PostgreSQL cannot store it. Only a body whose text has the `\u0000` escape (the
 * one way JSON spells U+0000) is walked.
 */
export function jsonParserWithoutNul(parse: JsonParser): JsonParser {
  return (request: FastifyRequest, body: string, done) => {
    parse(request, body, (error, value) => {
      if (error !== null) return done(error, undefined);
      const at = body.includes('\\u0000') ? nulPath(value) : undefined;
      if (at === undefined || request.routeOptions.config.nulPerItem === true)
        return done(null, value);
      done(
        new PalisadeError(
          'PALISADE_INVALID_REQUEST',
          'the body holds U+0000 (NUL), which no store takes: remove it or encode the data',
          [{ path: `/body${at}`, message: 'must not contain U+0000' }],
        ),
        undefined,
      );
    });
  };
}
