export type { Tenant, TenantStatus } from './tenant.ts';
export { type Actor, TenantContext } from './tenant-context.ts';
