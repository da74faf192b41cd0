/**
 * Revocation (RFC 7009) and introspection (RFC 7662) of the JWT access tokens. `oidc-provider`
 * answers both for stored tokens only and refuses JWTs with `unsupported_token_type`; this
 * middleware runs after it (the client is then already authenticated) and answers for the
 * JWTs of this tenant's issuer: revoking one adds its `jti` to the revocation list the
 * gateway checks. A client may revoke or introspect only the tokens issued to it.
 */
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Tenant } from '../tenancy/index.ts';
import type { AccessTokenVerifier, VerifiedAccessToken } from './access-token-verifier.ts';
import type { RevocationList } from './revocation-list.ts';
import { acceptedUntil } from './token-skew.ts';

function refusedAsStructured(ctx: KoaContextWithOIDC): boolean {
  const body = ctx.body as { error?: unknown } | undefined;
  return ctx.status === 400 && body?.error === 'unsupported_token_type';
}

async function ownToken(
  ctx: KoaContextWithOIDC,
  tenant: Tenant,
  verifier: AccessTokenVerifier,
): Promise<VerifiedAccessToken | undefined> {
  const token = ctx.oidc.params?.token;
  if (typeof token !== 'string') return undefined;
  try {
    const verified = await verifier.verify(token);
    if (verified.tenant.id !== tenant.id) return undefined;
    if (verified.claims.client_id !== ctx.oidc.client?.clientId) return undefined;
    return verified;
  } catch {
    return undefined;
  }
}

export function installStructuredTokenEndpoints(
  provider: Provider,
  tenant: Tenant,
  options: { readonly verifier: AccessTokenVerifier; readonly revocations: RevocationList },
): void {
  provider.use(async (ctx, next) => {
    await next();
    const route = ctx.oidc?.route;
    if ((route !== 'revocation' && route !== 'introspection') || !refusedAsStructured(ctx)) return;
    const verified = await ownToken(ctx, tenant, options.verifier);
    if (route === 'revocation') {
      if (verified !== undefined) {
        await options.revocations.revoke(tenant.id, {
          kind: 'jti',
          value: String(verified.claims.jti),
          expiresAt: acceptedUntil(Number(verified.claims.exp) * 1000),
        });
      }
      ctx.status = 200;
      ctx.body = '';
      return;
    }
    ctx.status = 200;
    ctx.set('cache-control', 'no-store');
    ctx.body =
      verified === undefined
        ? { active: false }
        : {
            active: true,
            // RFC 9449 §6.2: a key-bound token is not one a bearer may use.
            token_type: verified.claims.cnf === undefined ? 'Bearer' : 'DPoP',
            ...verified.claims,
          };
  });
}
