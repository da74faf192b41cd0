/** Lifecycle of a tenant: only `active` tenants' credentials are honoured. */
export type TenantStatus = 'active' | 'suspended' | 'deleted';

/** A tenant as the control plane knows it. */
export interface Tenant {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly plan: string;
  readonly status: TenantStatus;
  readonly shard: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}
