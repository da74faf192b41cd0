import type { FastifyBodyParser, FastifyRequest } from 'fastify';
import { PalisadeError } from '../errors/index.ts';
import { unstorableJson } from '../store/index.ts';

type JsonParser = FastifyBodyParser<string>;

const utf8 = new TextDecoder('utf-8', { fatal: true });

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
 * Fastify's JSON parser (prototype poisoning refused) for a body read as bytes, refusing one
 * that is not UTF-8 (RFC 8259 §8.1; decoding it as a string would put U+FFFD in place of the
 * bad bytes and store that) or that holds what no store keeps as sent (`unstorableJson`:
 * U+0000, a lone surrogate, a number JSON turns into ±Infinity or rounds, nesting beyond
 * JSON_DEPTH_MAX).
 */
export function strictJsonParser(parse: JsonParser): FastifyBodyParser<Buffer> {
  return (request: FastifyRequest, bytes: Buffer, done) => {
    // Many clients send `Content-Type: application/json` on every request, DELETE included:
    // an empty body is no body where the route takes none (every route that reads one has a
    // body schema); where it takes one, it is refused as JSON that is not there.
    if (bytes.length === 0) {
      if (request.routeOptions.schema?.body === undefined) return done(null, undefined);
      return done(
        new PalisadeError(
          'PALISADE_MALFORMED_JSON',
          'the body is empty, and this route takes a JSON body',
        ),
        undefined,
      );
    }
    let body: string;
    try {
      body = utf8.decode(bytes);
    } catch {
      return done(
        new PalisadeError('PALISADE_MALFORMED_JSON', 'the body is not valid JSON: it is not UTF-8'),
        undefined,
      );
    }
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
