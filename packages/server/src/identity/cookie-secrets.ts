/**
 * The operator's rotation of the tenant issuers' cookie secrets, made straight in the control
 * plane as `palisade admin token --rotate` replaces the admin token: it needs neither a
 * running server nor the master key, and it only retires the current secrets. The first
 * process that builds a tenant's issuer after it makes the new secret (IssuerKeys.load,
 * recorded in the tenant's ledger), and every process drops its cached issuer at its next
 * request that uses cookies, which reads the current secret first (TenantIssuers). A retired
 * secret verifies the cookies it signed for as long as a cookie lives, so no one is signed out.
 *
 * A leaked secret must not wait out that grace: revokeCookieSecrets deletes the tenant's
 * secrets, current and retired, at once. The next request that uses cookies, in any process,
 * finds no current secret, builds the issuer again with a new one only (ledger entry
 * `oidc-keys.cookie-secret-revoke`), and every cookie signed before verifies nothing: its
 * users sign in again.
 */
import type { ControlPlaneIdentityStore } from '../store/index.ts';

/** Retires the cookie secret of the tenant, or of every tenant; how many it retired. */
export function rotateCookieSecrets(
  store: ControlPlaneIdentityStore,
  tenantId?: string,
): Promise<number> {
  return store.retireCookieSecrets(new Date().toISOString(), tenantId);
}

/** Deletes the cookie secrets, current and retired, of the tenant or every tenant; how many. */
export function revokeCookieSecrets(
  store: ControlPlaneIdentityStore,
  tenantId?: string,
): Promise<number> {
  return store.revokeCookieSecrets(tenantId);
}
