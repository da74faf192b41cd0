/**
 * Builds one tenant's `oidc-provider` instance: issuer `<public URL>/t/<slug>`, storage over
 * the control plane, the tenant's own keys, and the grants Palisade offers (authorization
 * code with S256 PKCE, client credentials, refresh tokens rotated with reuse detection,
 * device authorization, revocation, introspection). Access tokens are JWTs (RFC 9068) for
 * the one resource, the tenant API, signed with the algorithm the client chose.
 */
import Provider, {
  interactionPolicy,
  type KoaContextWithOIDC,
  type OidcAccount,
  type OidcClient,
  type OidcToken,
  errors as oidcErrors,
} from 'oidc-provider';
import { hashSecretToken } from '../ids/index.ts';
import type { ControlPlaneIdentityStore } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import type { AccessTokenVerifier } from './access-token-verifier.ts';
import { ArtifactAdapter } from './artifact-adapter.ts';
import { DPOP_PROOF_ALGORITHMS } from './dpop-proof.ts';
import { PROVIDER_CSP } from './html-pages.ts';
import { type IssuerKeySet, SIGNING_ALGORITHMS } from './issuer-keys.ts';
import type { IssuerUrls } from './issuer-urls.ts';
import { deviceFlowPages, logoutPages, renderError } from './provider-pages.ts';
import type { RevocationList } from './revocation-list.ts';
import type { AccountDirectory, IssuerAccount } from './sign-in.ts';
import { installStructuredTokenEndpoints } from './structured-tokens.ts';

/** How long the artifacts of each grant live, in seconds. */
export interface IssuerLifetimes {
  readonly accessTokenSeconds: number;
  readonly refreshTokenSeconds: number;
  readonly deviceCodeSeconds: number;
  readonly sessionSeconds: number;
}

/** Seconds an authorization code stays redeemable (RFC 9700 wants it short). */
const AUTHORIZATION_CODE_SECONDS = 60;
/** Seconds a sign-in (interaction) may take. */
const INTERACTION_SECONDS = 600;

/** The longest a cookie the issuer signs lives (its session's or an interaction's), in ms. */
export function longestCookieMs(lifetimes: IssuerLifetimes): number {
  return Math.max(lifetimes.sessionSeconds, INTERACTION_SECONDS) * 1000;
}

export interface TenantProviderOptions {
  readonly urls: IssuerUrls;
  readonly store: ControlPlaneIdentityStore;
  readonly revocations: RevocationList;
  readonly accounts: AccountDirectory;
  readonly verifier: AccessTokenVerifier;
  readonly lifetimes: IssuerLifetimes;
}

export function createTenantProvider(
  tenant: Tenant,
  keys: IssuerKeySet,
  options: TenantProviderOptions,
): Provider {
  const { urls, lifetimes } = options;
  const issuer = urls.issuer(tenant.slug);
  const issuerPath = new URL(issuer).pathname;
  const sessionCookie = { signed: true, httpOnly: true, sameSite: 'lax', path: issuerPath };
  const provider = new Provider(issuer, {
    adapter: (model: string) =>
      new ArtifactAdapter(
        model,
        tenant.id,
        options.store,
        options.revocations,
        lifetimes.accessTokenSeconds * 1000,
      ),
    jwks: { keys: keys.signing },
    cookies: {
      keys: [...keys.cookieKeys],
      long: sessionCookie,
      short: { signed: true, httpOnly: true, sameSite: 'lax', path: issuerPath },
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: 'EdDSA',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    enabledJWA: {
      idTokenSigningAlgValues: [...SIGNING_ALGORITHMS],
      introspectionSigningAlgValues: [...SIGNING_ALGORITHMS],
      authorizationSigningAlgValues: [...SIGNING_ALGORITHMS],
      clientAuthSigningAlgValues: ['EdDSA', 'ES256'],
      requestObjectSigningAlgValues: ['EdDSA', 'ES256'],
      dPoPSigningAlgValues: [...DPOP_PROOF_ALGORITHMS],
    },
    extraClientMetadata: { properties: ['palisade_roles', 'palisade_token_alg'] },
    claims: { openid: ['sub'], email: ['email'], profile: ['name'], roles: ['roles'] },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'roles', 'api'],
    pkce: { required: () => true },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx: unknown, client: OidcClient) =>
      client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: lifetimes.accessTokenSeconds,
      ClientCredentials: lifetimes.accessTokenSeconds,
      IdToken: lifetimes.accessTokenSeconds,
      AuthorizationCode: AUTHORIZATION_CODE_SECONDS,
      DeviceCode: lifetimes.deviceCodeSeconds,
      RefreshToken: lifetimes.refreshTokenSeconds,
      Grant: lifetimes.refreshTokenSeconds,
      Session: lifetimes.sessionSeconds,
      Interaction: INTERACTION_SECONDS,
    },
    findAccount: async (
      ctx: KoaContextWithOIDC,
      sub: string,
      token?: OidcToken,
    ): Promise<OidcAccount | undefined> => {
      const account = await options.accounts.account(tenant, sub);
      if (account === undefined) return undefined;
      const authTime = token?.authTime ?? ctx.oidc.session?.authTime();
      if (signInEnded(account, authTime, token?.grantId)) return undefined;
      return {
        accountId: account.id,
        roles: account.roles,
        claims: () => ({
          sub: account.id,
          email: account.email,
          name: account.name,
          roles: [...account.roles],
        }),
      };
    },
    formats: {
      customizers: {
        jwt: async (
          ctx: KoaContextWithOIDC,
          token: OidcToken,
          jwt: { payload: Record<string, unknown> },
        ) => {
          if (token.kind === 'ClientCredentials') {
            jwt.payload.roles = ctx.oidc.client?.metadata().palisade_roles ?? [];
            return;
          }
          jwt.payload.roles = (ctx.oidc.account?.roles as string[] | undefined) ?? [];
          if (token.grantId !== undefined) jwt.payload.gid = token.grantId;
        },
      },
    },
    features: {
      devInteractions: { enabled: false },
      dPoP: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      // JWT access tokens are for the API only (the ID token carries the user's claims).
      userinfo: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => urls.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string, client: OidcClient) => {
          if (resource !== urls.audience)
            throw new oidcErrors.InvalidTarget(`the only resource is ${urls.audience}`);
          return {
            scope: 'api',
            audience: urls.audience,
            accessTokenTTL: lifetimes.accessTokenSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: client.metadata().palisade_token_alg ?? 'EdDSA' } },
          };
        },
      },
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        ...deviceFlowPages({ seconds: lifetimes.sessionSeconds, cookie: sessionCookie }),
      },
      rpInitiatedLogout: { enabled: true, ...logoutPages(tenant) },
    },
    interactions: {
      policy: signInPolicy(),
      url: (_ctx: unknown, interaction: { uid: string }) =>
        `${issuerPath}/interaction/${interaction.uid}`,
    },
    renderError,
  });
  // The gateway sets X-Forwarded-For and -Proto to the client address and scheme it trusts
  // (trustedProxies) and drops X-Forwarded-Host before a request reaches the provider.
  provider.proxy = true;
  provider.use(async (ctx, next) => {
    ctx.set('content-security-policy', PROVIDER_CSP);
    ctx.set('x-content-type-options', 'nosniff');
    await next();
  });
  // Client secrets are stored as SHA-256 only: compare the presented one by its hash.
  const compare = provider.Client.prototype.compareClientSecret;
  provider.Client.prototype.compareClientSecret = function (this: OidcClient, actual: string) {
    return compare.call(this, hashSecretToken(actual));
  };
  installStructuredTokenEndpoints(provider, tenant, options);
  return provider;
}

/**
 * Whether a disable or credential change after the sign-in at `authTime` (epoch seconds) ended
 * it. The provider counts in whole seconds, so a sign-in in the change's own second still
 * counts; one of unknown time does not. The grant a user changed their own credentials from
 * is kept (its refresh tokens; the browser session signs in again, as it has no grant).
 */
function signInEnded(
  account: IssuerAccount,
  authTime: number | undefined,
  grantId: string | undefined,
): boolean {
  if (account.signInsFrom === null) return false;
  if (grantId !== undefined && grantId === account.keptSignIn) return false;
  return authTime === undefined || authTime < account.signInsFrom;
}

/**
 * The provider's prompts, with the sign-in page asked for again when the browser's session is
 * of an account that `findAccount` no longer gives (ended, disabled or deleted): without it,
 * the session would go on making authorization codes that the token endpoint refuses.
 */
function signInPolicy() {
  const policy = interactionPolicy.base();
  const { Check } = interactionPolicy;
  policy
    .get('login')
    ?.checks.add(
      new Check('account_unavailable', 'End-User authentication is required', (ctx) =>
        ctx.oidc.session?.accountId !== undefined && ctx.oidc.account === undefined
          ? Check.REQUEST_PROMPT
          : Check.NO_NEED_TO_PROMPT,
      ),
    );
  return policy;
}
