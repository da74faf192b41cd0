/**
 * The tenant as a type. `issueTenantContext` is deliberately not exported here: only the
 * credential checks (control/credential-verifier, devices/device-authenticator,
 * edge/edge-service) import it from `tenant-context.ts`, so nothing else can make a context.
 */
export type { Tenant, TenantStatus } from './tenant.ts';
export { type Actor, TenantContext } from './tenant-context.ts';
