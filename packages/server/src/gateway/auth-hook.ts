import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  type Authorizer,
  forbidden,
  isPermission,
  type Permission,
  type PermissionSet,
  type RequestFacts,
  restResource,
  type TenantPrincipal,
} from '../authz/index.ts';
import type { CredentialVerifier, Principal } from '../control/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { MaybePromise } from '../maybe-promise/index.ts';
import type { TenantContext } from '../tenancy/index.ts';

/**
 * Who may call a route: anyone, an edge node (its node credential, checked by the route's own
 * hook before the body is read), the platform admin, a signed-in user acting on their own
 * account (`'user'`: their own access token, whatever their roles), or a tenant principal
 * that holds the named permission. `'tenant'` admits any tenant principal and is only for a
 * route that authorizes every operation it runs by itself: GraphQL, whose every field names
 * its permission. Nothing else is "any tenant caller".
 */
export type RouteAuth = 'public' | 'edge-node' | 'admin' | 'tenant' | 'user' | Permission;

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
    /** The tenant principal acting in this request, made at its first decision. */
    acting: TenantPrincipal | undefined;
  }
}

type TenantCaller = Extract<Principal, { kind: 'tenant' }>;

/**
 * What the gateway knows of a request for Cedar's context, read only when a tenant's policies
 * ask: `request.ip`, the peer's address unless the peer is one of `trustedProxies` (Fastify's
 * `trustProxy`), whose `X-Forwarded-For` then names it; and the time it was first read, kept
 * for every later decision of the request.
 */
class GatewayFacts implements RequestFacts {
  readonly #request: FastifyRequest;
  #at: number | undefined;

  constructor(request: FastifyRequest) {
    this.#request = request;
  }

  get address(): string | undefined {
    return this.#request.ip;
  }

  get at(): number {
    this.#at ??= Date.now();
    return this.#at;
  }
}

/** The request's principal as the authorizer decides on it: one per request. */
function actingIn(request: FastifyRequest, principal: TenantCaller): TenantPrincipal {
  request.acting ??= { ...principal, request: new GatewayFacts(request) };
  return request.acting;
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
  app.decorateRequest('acting', undefined);
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
      auth !== 'user' &&
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
      if (auth === 'admin' || auth === 'tenant' || auth === 'user' || principal.kind !== 'tenant')
        return admit();
      const resource = restResource(
        principal.context.tenantId,
        auth,
        route.url ?? '',
        request.params as Record<string, string>,
        request.query as Record<string, unknown>,
      );
      const decision = authorizer.decide(actingIn(request, principal), auth, resource);
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
  if (auth === 'user') return notAUser(principal);
  return principal.kind === 'tenant'
    ? undefined
    : new PalisadeError(
        'PALISADE_FORBIDDEN',
        'this route acts inside a tenant: use a tenant credential',
      );
}

/** What each kind of tenant credential is called in a refusal. */
const CREDENTIAL_NAMES: Readonly<Record<string, string>> = {
  'api-key': 'an API key',
  'service-client': "a service client's token",
};

/** Why a principal is not a signed-in user acting on their own account, if it is not one. */
function notAUser(principal: Principal): PalisadeError | undefined {
  if (principal.kind === 'tenant' && principal.context.actor.kind === 'user') return undefined;
  const what =
    principal.kind === 'platform-admin'
      ? 'the platform-admin token'
      : (CREDENTIAL_NAMES[principal.context.actor.kind] ?? 'this credential');
  return new PalisadeError(
    'PALISADE_FORBIDDEN',
    `this route is the signed-in user's own account, and ${what} is no user: call it with the user's own access token (authorization code or device grant)`,
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
  return actingIn(request, principal);
}

/** The permissions the caller of an authenticated tenant route holds. */
export function permissionsOf(request: FastifyRequest): PermissionSet {
  const principal = request.principal;
  if (principal?.kind !== 'tenant')
    throw new PalisadeError('PALISADE_FORBIDDEN', 'this route acts inside a tenant');
  return principal.permissions;
}

/** The signed-in user of a `'user'` route: their context, and the sign-in their token is of. */
export function signedInUserOf(request: FastifyRequest): {
  context: TenantContext;
  signIn: string | undefined;
} {
  const principal = request.principal;
  if (principal?.kind !== 'tenant' || principal.context.actor.kind !== 'user')
    throw new PalisadeError('PALISADE_FORBIDDEN', "this route is the signed-in user's own account");
  return { context: principal.context, signIn: principal.signIn };
}
