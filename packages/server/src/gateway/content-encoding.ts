import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PalisadeError } from '../errors/index.ts';

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return (
    request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
  );
}

function isIdentity(contentEncoding: string): boolean {
  return contentEncoding
    .split(',')
    .every((coding) => ['', 'identity'].includes(coding.trim().toLowerCase()));
}

/**
 * Bodies are read as sent: no content coding is decoded (RFC 9110 §8.4), so a body in one
 * (gzip, br…) is refused before it is read, with 415 and `Accept-Encoding: identity`
 * (§12.5.3), rather than parsed as if it were plain and refused as malformed.
 */
export function installContentEncodingCheck(app: FastifyInstance): void {
  app.addHook('preParsing', (request, reply, payload, done) => {
    const contentEncoding = request.headers['content-encoding'];
    if (contentEncoding === undefined || isIdentity(contentEncoding) || !hasBody(request))
      return done(null, payload);
    reply.header('accept-encoding', 'identity');
    done(
      new PalisadeError(
        'PALISADE_UNSUPPORTED_CONTENT_ENCODING',
        `the body is in content coding ${JSON.stringify(contentEncoding)}; send it uncompressed`,
        [{ path: '/headers/content-encoding', message: 'must be identity or absent' }],
      ),
    );
  });
}
