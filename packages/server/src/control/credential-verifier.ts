import { Counter, type Registry } from 'prom-client';
import type { PermissionSet, RoleResolver } from '../authz/index.ts';
import { LookupCache } from '../caches/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { TokenPresentation, VerifiedAccessToken } from '../identity/index.ts';
import { hashSecretToken } from '../ids/index.ts';
import { andThen, type MaybePromise } from '../maybe-promise/index.ts';
import type { ControlPlaneStore, StoredCredential } from '../store/index.ts';
import type { Actor, Tenant, TenantContext } from '../tenancy/index.ts';
import { issueTenantContext } from '../tenancy/tenant-context.ts';

/** The verified caller of a request. */
export type Principal =
  | { readonly kind: 'platform-admin' }
  | {
      readonly kind: 'tenant';
      readonly context: TenantContext;
      /** What the principal's roles allow, checked by every tenant route. */
      readonly permissions: PermissionSet;
      /** The roles the permissions come from (Cedar policies see the principal as their member). */
      readonly roles: readonly string[];
      /** A user's sign-in (the issuer's grant id) their access token belongs to. */
      readonly signIn?: string | undefined;
    };

/** Longest JWT looked at (an ML-DSA-65 signature alone is 4.4 kB in base64url). */
const JWT_MAX_LENGTH = 8192;
const BEARER = 'Bearer ';
const DPOP = 'DPoP ';
/** What `verify` is told of a request when it checks an API key again (a key needs nothing). */
const NO_REQUEST: CredentialRequest = { method: 'GET', url: '/', dpop: undefined };

/** Verifies tenant issuers' JWT access tokens (the identity capability). */
export interface AccessTokens {
  /** Whether a bearer value is an access token to verify here (else it is a secret). */
  recognizes(token: string): boolean;
  /** Without `presentation`, a key-bound (DPoP) token is judged without its proof. */
  verify(token: string, presentation?: TokenPresentation): MaybePromise<VerifiedAccessToken>;
}

/** The request a credential came with, as far as proof of possession (DPoP) needs it. */
export interface CredentialRequest {
  readonly method: string;
  /** The request URL's path and query. */
  readonly url: string;
  /** The `DPoP` header. */
  readonly dpop: string | undefined;
}

/** An access token `tokens` recognizes after `Bearer ` or `DPoP `, or undefined. */
function accessTokenOf(
  tokens: AccessTokens,
  authorization: string | undefined,
): { scheme: 'Bearer' | 'DPoP'; token: string } | undefined {
  if (authorization === undefined || authorization.length > DPOP.length + JWT_MAX_LENGTH)
    return undefined;
  const scheme = authorization.startsWith(BEARER)
    ? 'Bearer'
    : authorization.startsWith(DPOP)
      ? 'DPoP'
      : undefined;
  if (scheme === undefined) return undefined;
  const token = authorization.slice(scheme.length + 1);
  return tokens.recognizes(token) ? { scheme, token } : undefined;
}

/** What a CredentialVerifier is made with. */
export interface CredentialVerifierOptions {
  readonly controlPlane: ControlPlaneStore;
  /** How long a lookup is trusted (`authCacheTtlMs`). */
  readonly ttlMs: number;
  /** Most found credentials cached (`authCacheMax`). */
  readonly cacheMax: number;
  /** Most unknown secrets remembered, apart from found ones (`authCacheMissesMax`). */
  readonly missesMax: number;
  readonly roles: RoleResolver;
  readonly metrics: Registry;
  /** Verifies the JWT access tokens of tenant issuers; without it only secrets work. */
  readonly tokens?: AccessTokens | undefined;
}

/**
 * Turns a bearer secret into a Principal. Lookups go by the secret's SHA-256 and are cached
 * for `ttlMs` (a setting); unknown secrets are cached under a bound of their own, so made-up
 * tokens never push a real credential out. A credential change in this process drops them
 * at once (`invalidate`, or `forgetTenant` for one tenant's), and other processes see it
 * when the internal channel's notice arrives or, failing that, within the TTL.
 */
export class CredentialVerifier {
  readonly #controlPlane: ControlPlaneStore;
  readonly #roles: RoleResolver;
  readonly #tokens: AccessTokens | undefined;
  readonly #cache: LookupCache<StoredCredential>;
  readonly #storeLookups: Counter;

  constructor(options: CredentialVerifierOptions) {
    this.#controlPlane = options.controlPlane;
    this.#roles = options.roles;
    this.#tokens = options.tokens;
    this.#cache = new LookupCache({
      ttlMs: options.ttlMs,
      foundMax: options.cacheMax,
      missingMax: options.missesMax,
    });
    this.#storeLookups = new Counter({
      name: 'palisade_credential_store_lookups_total',
      help: 'Bearer secrets (API keys, the platform-admin token, unknown tokens) looked up in the control plane because the cache did not answer',
      registers: [options.metrics],
    });
  }

  /**
   * The context in which the platform admin acts on one tenant (exports, key rotation).
   * Only a verified admin principal can get one; the actor says who it was.
   */
  actAsAdmin(principal: Principal | undefined, tenant: Tenant): TenantContext {
    if (principal?.kind !== 'platform-admin')
      throw new PalisadeError('PALISADE_FORBIDDEN', 'this route needs the platform-admin token');
    if (tenant.status === 'deleted')
      throw new PalisadeError('PALISADE_TENANT_DELETED', `tenant ${tenant.id} is deleted`);
    return issueTenantContext(tenant, { kind: 'platform-admin', id: 'platform-admin' });
  }

  invalidate(): void {
    this.#cache.clear();
  }

  /** Drops the cached API keys of one tenant (deleted or suspended). */
  forgetTenant(tenantId: string): void {
    this.#cache.dropFound(
      (credential) => credential.kind === 'api-key' && credential.tenant.id === tenantId,
    );
  }

  /**
   * The principal of a request's credential. A credential found in the caches (an API key
   * looked up before, an access token verified before) yields it at once rather than as a
   * promise, so the gateway admits the request in the same tick. Refusals are
   * PalisadeErrors, thrown or as a rejection.
   */
  verify(authorization: string | undefined, request: CredentialRequest): MaybePromise<Principal> {
    const access =
      this.#tokens === undefined ? undefined : accessTokenOf(this.#tokens, authorization);
    if (access !== undefined) {
      const verified = this.#tokens!.verify(access.token, {
        scheme: access.scheme,
        method: request.method,
        path: request.url,
        proof: request.dpop,
      });
      return andThen(verified, ({ tenant, actor, roles, grantId }) =>
        this.#tenantPrincipal(tenant, actor, roles, grantId),
      );
    }
    const match =
      authorization === undefined ? null : /^Bearer ([\x21-\x7e]{16,512})$/.exec(authorization);
    if (match === null) {
      throw new PalisadeError(
        'PALISADE_UNAUTHENTICATED',
        'send Authorization: Bearer <token> with a platform-admin token, a tenant API key or an access token from your tenant issuer (/t/<slug>/token)',
      );
    }
    const hash = hashSecretToken(match[1]!);
    const cached = this.#cache.get(hash, Date.now());
    if (cached !== undefined) return this.#secretPrincipal(cached.value);
    return this.#lookUp(hash).then((credential) => this.#secretPrincipal(credential));
  }

  /**
   * Whether the credential a request was admitted with still holds in `context`'s tenant: an
   * API key not revoked, an access token not expired or revoked, the tenant active. A
   * long-lived response (the telemetry stream) asks as it runs; a DPoP proof is not asked for
   * again (the request's was checked when it was admitted). A refusal is `false`.
   */
  current(authorization: string | undefined, context: TenantContext): MaybePromise<boolean> {
    const inTenant = (tenant: Tenant) => tenant.id === context.tenantId;
    const refused = () => false;
    try {
      const access =
        this.#tokens === undefined ? undefined : accessTokenOf(this.#tokens, authorization);
      const held =
        access === undefined
          ? andThen(this.verify(authorization, NO_REQUEST), (principal) =>
              principal.kind === 'tenant' ? inTenant(principal.context.tenant) : false,
            )
          : andThen(this.#tokens!.verify(access.token), (verified) => inTenant(verified.tenant));
      return held instanceof Promise ? held.catch(refused) : held;
    } catch {
      return false;
    }
  }

  async #lookUp(hash: string): Promise<StoredCredential | undefined> {
    const startedAt = Date.now();
    this.#storeLookups.inc();
    const credential = await this.#controlPlane.findCredential(hash);
    this.#cache.set(hash, credential, startedAt);
    return credential;
  }

  #secretPrincipal(credential: StoredCredential | undefined): MaybePromise<Principal> {
    if (credential === undefined)
      throw new PalisadeError('PALISADE_UNAUTHENTICATED', 'the bearer token is unknown or revoked');
    if (credential.kind === 'admin') return { kind: 'platform-admin' };
    if (credential.tenant.status === 'suspended') {
      throw new PalisadeError(
        'PALISADE_TENANT_SUSPENDED',
        `tenant ${credential.tenant.slug} is suspended; ask the platform admin to resume it`,
      );
    }
    if (credential.tenant.status !== 'active')
      throw new PalisadeError('PALISADE_UNAUTHENTICATED', 'the bearer token is unknown or revoked');
    return this.#tenantPrincipal(
      credential.tenant,
      { kind: 'api-key', id: `api-key:${credential.keyId}` },
      credential.roles,
    );
  }

  #tenantPrincipal(
    tenant: Tenant,
    actor: Actor,
    roles: readonly string[],
    signIn?: string,
  ): MaybePromise<Principal> {
    const context = issueTenantContext(tenant, actor);
    return andThen(this.#roles.resolve(tenant, roles), (permissions) => ({
      kind: 'tenant' as const,
      context,
      permissions,
      roles,
      signIn,
    }));
  }
}
