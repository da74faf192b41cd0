import type { Tenant } from './tenant.ts';

const AUTHORITY = Symbol('palisade.tenant-context');

/** Who acts inside a tenant: the key or principal named in ledger entries. */
export interface Actor {
  readonly kind:
    | 'api-key'
    | 'platform-admin'
    | 'device'
    | 'provisioning-key'
    | 'edge-node'
    | 'user'
    | 'service-client';
  readonly id: string;
}

/**
 * The only handle through which code reaches a tenant's data. It is made solely by
 * authentication (`issueTenantContext`, which only the gateway's credential check imports),
 * so a tenant id from a URL or a payload can never become one.
 */
export class TenantContext {
  readonly tenant: Tenant;
  readonly actor: Actor;

  constructor(authority: typeof AUTHORITY, tenant: Tenant, actor: Actor) {
    if (authority !== AUTHORITY)
      throw new TypeError('TenantContext is made only by authentication');
    this.tenant = tenant;
    this.actor = actor;
  }

  get tenantId(): string {
    return this.tenant.id;
  }
}

/** For authentication only: binds a verified credential's tenant and actor. */
export function issueTenantContext(tenant: Tenant, actor: Actor): TenantContext {
  return new TenantContext(AUTHORITY, tenant, actor);
}
