import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CredentialVerifier, Principal } from '../control/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { TenantContext } from '../tenancy/index.ts';

/** Who may call a route: nobody in particular, the platform admin, or a tenant credential. */
export type RouteAuth = 'public' | 'admin' | 'tenant';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

/**
 * Authenticates before the body is read. Every route must declare `config.auth`; a route
 * without one is refused at registration, so nothing is reachable by accident.
 */
export function installAuth(
  app: FastifyInstance,
  verifier: CredentialVerifier,
  closing: () => boolean,
): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRoute', (route) => {
    if (route.config?.auth === undefined && !route.url.startsWith('*') && route.url !== '/*') {
      throw new Error(`route ${route.method} ${route.url} declares no config.auth`);
    }
  });
  // A callback hook: an async one cost a promise per request, measurably, even on public routes.
  app.addHook('onRequest', (request, reply, done) => {
    if (closing()) {
      reply.header('connection', 'close');
      done(
        new PalisadeError(
          'PALISADE_UNAVAILABLE',
          'the server is shutting down; retry against another instance or after restart',
        ),
      );
      return;
    }
    const auth = request.routeOptions.config.auth;
    if (auth === undefined || auth === 'public') {
      done();
      return;
    }
    verifier.verify(request.headers.authorization).then((principal) => {
      if (auth === 'admin' && principal.kind !== 'platform-admin') {
        done(new PalisadeError('PALISADE_FORBIDDEN', 'this route needs the platform-admin token'));
        return;
      }
      if (auth === 'tenant' && principal.kind !== 'tenant') {
        done(
          new PalisadeError(
            'PALISADE_FORBIDDEN',
            'this route acts inside a tenant: use a tenant API key',
          ),
        );
        return;
      }
      request.principal = principal;
      done();
    }, done);
  });
}

/** The tenant of an authenticated tenant route. */
export function tenantOf(request: FastifyRequest): TenantContext {
  const principal = request.principal;
  if (principal?.kind !== 'tenant')
    throw new PalisadeError('PALISADE_FORBIDDEN', 'this route acts inside a tenant');
  return principal.context;
}
