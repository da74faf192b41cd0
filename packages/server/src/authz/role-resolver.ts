import { setNewest } from '../caches/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { MaybePromise } from '../maybe-promise/index.ts';
import type { ShardStore } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import { isPermission, PermissionSet } from './permissions.ts';
import { assertHeld, type RoleGrants } from './role-grant.ts';
import { builtInRolePermissions, isBuiltInRole } from './roles.ts';

interface TenantRoles {
  readonly roles: Promise<ReadonlyMap<string, PermissionSet>>;
  readonly expires: number;
}

/**
 * Turns a principal's role names into the PermissionSet every route checks. Built-in roles
 * resolve without I/O; a tenant's custom roles are read once and cached per tenant for
 * `ttlMs` (the credential cache's TTL), and `invalidate` drops a tenant's entry the moment
 * its roles change in this process. A name that is no role grants nothing.
 *
 * API keys, service clients and users all resolve through here, so a role means the same
 * whatever kind of credential holds it.
 */
export class RoleResolver implements RoleGrants {
  readonly #shards: ReadonlyMap<string, ShardStore>;
  readonly #ttlMs: number;
  readonly #tenantsMax: number;
  readonly #tenants = new Map<string, TenantRoles>();

  /** `tenantsMax`: most tenants whose custom roles are cached; beyond it the oldest is read again. */
  constructor(shards: ReadonlyMap<string, ShardStore>, ttlMs: number, tenantsMax: number) {
    this.#shards = shards;
    this.#ttlMs = ttlMs;
    this.#tenantsMax = tenantsMax;
  }

  /** The union of the roles' permissions in the tenant; at once for one built-in role. */
  resolve(tenant: Tenant, roles: readonly string[]): MaybePromise<PermissionSet> {
    if (roles.length === 1 && isBuiltInRole(roles[0]!)) return builtInRolePermissions(roles[0]);
    return this.#union(tenant, roles);
  }

  async #union(tenant: Tenant, roles: readonly string[]): Promise<PermissionSet> {
    let set = PermissionSet.EMPTY;
    let custom: ReadonlyMap<string, PermissionSet> | undefined;
    for (const role of roles) {
      if (isBuiltInRole(role)) {
        set = set.union(builtInRolePermissions(role));
        continue;
      }
      custom ??= await this.#customRoles(tenant);
      const permissions = custom.get(role);
      if (permissions !== undefined) set = set.union(permissions);
    }
    return set;
  }

  /** Throws PALISADE_UNKNOWN_ROLE naming the first name that is no role of the tenant. */
  async check(tenant: Tenant, roles: readonly string[]): Promise<void> {
    for (const role of roles) {
      if (isBuiltInRole(role)) continue;
      const custom = await this.#customRoles(tenant);
      if (!custom.has(role)) {
        throw new PalisadeError(
          'PALISADE_UNKNOWN_ROLE',
          `${JSON.stringify(role)} is neither a built-in role nor a custom role of the tenant; GET /v1/roles lists them`,
        );
      }
    }
  }

  /**
   * Throws unless every name is a role of the tenant and `held` has every permission of each
   * (see assertHeld): what a caller may give a user or a service client.
   */
  async checkGrantable(
    tenant: Tenant,
    held: PermissionSet,
    roles: readonly string[],
  ): Promise<void> {
    await this.check(tenant, roles);
    for (const role of roles)
      assertHeld(
        held,
        await this.resolve(tenant, [role]),
        `giving the role ${role}`,
        '/body/roles',
      );
  }

  async checkCovers(
    tenant: Tenant,
    held: PermissionSet,
    roles: readonly string[],
    what: string,
  ): Promise<void> {
    assertHeld(held, await this.resolve(tenant, roles), what, '/params/id');
  }

  /** Forgets the tenant's cached custom roles (call after any change to them). */
  invalidate(tenantId: string): void {
    this.#tenants.delete(tenantId);
  }

  #customRoles(tenant: Tenant): Promise<ReadonlyMap<string, PermissionSet>> {
    const now = Date.now();
    const cached = this.#tenants.get(tenant.id);
    if (cached !== undefined && cached.expires > now) return cached.roles;
    const roles = this.#load(tenant);
    const entry = { roles, expires: now + this.#ttlMs };
    setNewest(this.#tenants, tenant.id, entry, this.#tenantsMax);
    // A failed read is not remembered: the next request tries again.
    roles.catch(() => {
      if (this.#tenants.get(tenant.id) === entry) this.#tenants.delete(tenant.id);
    });
    return roles;
  }

  async #load(tenant: Tenant): Promise<ReadonlyMap<string, PermissionSet>> {
    const shard = this.#shards.get(tenant.shard);
    if (shard === undefined)
      throw new PalisadeError('PALISADE_INTERNAL', `shard ${tenant.shard} is not open`);
    const rows = await (await shard.tenant(tenant.id)).reader.authz.listRoles();
    return new Map(
      rows.map((row) => [row.name, PermissionSet.of(row.permissions.filter(isPermission))]),
    );
  }
}
