import type { FastifyInstance } from 'fastify';
import type { CorsSettings } from '../cors/index.ts';
import { PalisadeError } from '../errors/index.ts';

const ALLOW_METHODS = 'GET, POST, PUT, PATCH, DELETE';
/** The request headers the API reads beyond the CORS-safelisted ones. */
const ALLOW_HEADERS = 'authorization, content-type, if-match';
/** Response headers a browser script may read beyond the CORS-safelisted ones. */
const EXPOSE_HEADERS = 'etag, location, ratelimit, ratelimit-policy, retry-after';

/**
 * Per-tenant CORS. The tenant comes from the credential, and a preflight carries none, so:
 *
 * - A preflight (OPTIONS, unauthenticated) is answered for an origin that some active tenant
 *   allows, and for no other; the answer names no tenant. It reveals only that some tenant
 *   allows that origin.
 * - An actual request with an `Origin` is checked after authentication against the tenant of
 *   its credential: allowed, the response reflects the origin; not allowed, it is refused
 *   with PALISADE_ORIGIN_NOT_ALLOWED before the route runs, so an origin that passed the
 *   preflight for tenant A cannot act with tenant B's credential. Same-origin requests and
 *   clients that send no `Origin` are not concerned.
 *
 * Credentials are bearer tokens, never cookies, so `Access-Control-Allow-Credentials` is never
 * sent. Register after `installAuth`: hooks run in registration order.
 */
export function installCors(app: FastifyInstance, cors: CorsSettings): void {
  // A callback hook, and requests without an Origin (every non-browser client) pay one read.
  app.addHook('onRequest', (request, reply, done) => {
    const origin = request.headers.origin;
    const principal = request.principal;
    if (origin === undefined || principal?.kind !== 'tenant') {
      done();
      return;
    }
    if (origin === `${request.protocol}://${request.host}`) {
      done();
      return;
    }
    const decide = (allowed: boolean) => {
      if (!allowed) {
        done(
          new PalisadeError(
            'PALISADE_ORIGIN_NOT_ALLOWED',
            `origin ${origin} is not on the tenant's CORS allow-list; add it with PUT /v1/settings/cors`,
          ),
        );
        return;
      }
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-expose-headers', EXPOSE_HEADERS);
      reply.header('vary', 'Origin');
      done();
    };
    const allowed = cors.allows(principal.context, origin);
    if (typeof allowed === 'boolean') decide(allowed);
    else allowed.then(decide, done);
  });
}

/**
 * `OPTIONS /*`: CORS preflights, answered with no credential for origins some active tenant
 * allows (see `installCors`). Register with the routes, after the OpenAPI collector.
 */
export function corsPreflightRoute(
  app: FastifyInstance,
  cors: CorsSettings,
  maxAgeSeconds: number,
): void {
  app.options('/*', {
    config: { auth: 'public' },
    schema: {
      summary: 'CORS preflight: answered for origins that some tenant allows',
      tags: ['cors'],
      headers: {
        type: 'object',
        properties: {
          origin: { type: 'string', maxLength: 300 },
          'access-control-request-method': { type: 'string', maxLength: 20 },
        },
      },
      response: { 204: { type: 'null', description: 'No body' } },
    },
    handler: async (request, reply) => {
      const origin = request.headers.origin;
      const method = request.headers['access-control-request-method'];
      reply.header('vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
      if (origin !== undefined && method !== undefined && (await cors.anyAllows(origin))) {
        reply.headers({
          'access-control-allow-origin': origin,
          'access-control-allow-methods': ALLOW_METHODS,
          'access-control-allow-headers': ALLOW_HEADERS,
          'access-control-max-age': String(maxAgeSeconds),
        });
      }
      return reply.code(204).send();
    },
  });
}
