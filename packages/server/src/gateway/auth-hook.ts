import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  type Authorizer,
  forbidden,
  isPermission,
  type Permission,
  type PermissionSet,
  restResource,
  type TenantPrincipal,
} from '../authz/index.ts';
import type { CredentialVerifier, Principal } from '../control/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { MaybePromise } from '../maybe-promise/index.ts';
import type { TenantContext } from '../tenancy/index.ts';

/**
 * Who may call a route: anyone, an edge node (its node credential, checked by the route's own
 * hook before the body is read), the platform admin, or a tenant principal that holds the
 * named permission. `'tenant'` admits any tenant principal and is only for a route that
 * authorizes every operation it runs by itself: GraphQL, whose every field names its
 * permission. Nothing else is "any tenant caller".
 */
export type RouteAuth = 'public' | 'edge-node' | 'admin' | 'tenant' | Permission;

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
  authorizer: Authorizer,
  closing: () => boolean,
): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRoute', (route) => {
    const auth = route.config?.auth;
    if (route.url.startsWith('*') || route.url === '/*') return;
    if (auth === undefined)
      throw new Error(`route ${route.method} ${route.url} declares no config.auth`);
    if (
      auth !== 'public' &&
      auth !== 'edge-node' &&
      auth !== 'admin' &&
      auth !== 'tenant' &&
      !isPermission(auth)
    )
      throw new Error(`route ${route.method} ${route.url} names unknown permission ${auth}`);
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
    // Fastify builds a new routeOptions object on every read of it: read it once.
    const route = request.routeOptions;
    const auth = route.config.auth;
    if (auth === undefined || auth === 'public' || auth === 'edge-node') {
      done();
      return;
    }
    const dpop = request.headers.dpop;
    const credentialRequest = {
      method: request.method,
      url: request.url,
      dpop: typeof dpop === 'string' ? dpop : undefined,
    };
    const admitted = (principal: Principal) => {
      const refusal = wrongKind(principal, auth);
      if (refusal !== undefined) return done(refusal);
      const admit = () => {
        request.principal = principal;
        done();
      };
      if (auth === 'admin' || auth === 'tenant' || principal.kind !== 'tenant') return admit();
      const resource = restResource(
        principal.context.tenantId,
        auth,
        route.url ?? '',
        request.params as Record<string, string>,
        request.query as Record<string, unknown>,
      );
      const decision = authorizer.decide(principal, auth, resource);
      if (decision === true) return admit();
      if (decision === false) return done(forbidden(principal, auth));
      decision.then((allowed) => (allowed ? admit() : done(forbidden(principal, auth))), done);
    };
    // A cached credential verifies without a promise, and the request goes on in this tick.
    let verified: MaybePromise<Principal>;
    try {
      verified = verifier.verify(request.headers.authorization, credentialRequest);
    } catch (error) {
      done(error as Error);
      return;
    }
    if (verified instanceof Promise) verified.then(admitted, done);
    else admitted(verified);
  });
}

/** Why a verified principal is the wrong kind for the route, if it is. */
function wrongKind(
  principal: Principal,
  auth: Exclude<RouteAuth, 'public' | 'edge-node'>,
): PalisadeError | undefined {
  if (auth === 'admin')
    return principal.kind === 'platform-admin'
      ? undefined
      : new PalisadeError('PALISADE_FORBIDDEN', 'this route needs the platform-admin token');
  return principal.kind === 'tenant'
    ? undefined
    : new PalisadeError(
        'PALISADE_FORBIDDEN',
        'this route acts inside a tenant: use a tenant credential',
      );
}

/** The tenant of an authenticated tenant route. */
export function tenantOf(request: FastifyRequest): TenantContext {
  const principal = request.principal;
  if (principal?.kind !== 'tenant')
    throw new PalisadeError('PALISADE_FORBIDDEN', 'this route acts inside a tenant');
  return principal.context;
}

/** The caller of an authenticated tenant route, for a route that decides a second permission. */
export function tenantPrincipalOf(request: FastifyRequest): TenantPrincipal {
  const principal = request.principal;
  if (principal?.kind !== 'tenant')
    throw new PalisadeError('PALISADE_FORBIDDEN', 'this route acts inside a tenant');
  return principal;
}

/** The permissions the caller of an authenticated tenant route holds. */
export function permissionsOf(request: FastifyRequest): PermissionSet {
  const principal = request.principal;
  if (principal?.kind !== 'tenant')
    throw new PalisadeError('PALISADE_FORBIDDEN', 'this route acts inside a tenant');
  return principal.permissions;
}
