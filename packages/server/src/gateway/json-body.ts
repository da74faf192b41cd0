import type { FastifyBodyParser, FastifyRequest } from 'fastify';
import { PalisadeError } from '../errors/index.ts';
import { unstorableJson } from '../store/index.ts';

type JsonParser = FastifyBodyParser<string>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route checks its items itself (see `unstorable`), so one bad item cannot refuse the
     * rest: a signed edge batch answers its refusals by index.
     */
    unstorablePerItem?: true;
  }
}

/**
 * Fastify's JSON parser (prototype poisoning refused), also refusing a body that holds what no
 * store keeps as sent (`unstorableJson`: U+0000, a lone surrogate, a number JSON turns into
 * ±Infinity or rounds, nesting beyond JSON_DEPTH_MAX).
 */
export function strictJsonParser(parse: JsonParser): JsonParser {
  return (request: FastifyRequest, body: string, done) => {
    parse(request, body, (error, value) => {
      if (error !== null) return done(error, undefined);
      const found = unstorableJson(body, value);
      if (found === undefined || request.routeOptions.config.unstorablePerItem === true)
        return done(null, value);
      done(
        new PalisadeError(
          'PALISADE_INVALID_REQUEST',
          `the body holds what no store keeps as sent, at /body${found.path}: ${found.message}`,
          [{ path: `/body${found.path}`, message: found.message }],
        ),
        undefined,
      );
    });
  };
}
