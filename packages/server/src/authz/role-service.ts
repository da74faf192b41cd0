import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { RoleRow, TenantStore } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { isPermission, type Permission, PermissionSet } from './permissions.ts';
import { assertHeld } from './role-grant.ts';
import type { RoleResolver } from './role-resolver.ts';
import {
  BUILT_IN_ROLE_DESCRIPTIONS,
  BUILT_IN_ROLE_NAMES,
  BUILT_IN_ROLES,
  isBuiltInRole,
} from './roles.ts';

/** A role as the API shows it: built in (no version) or the tenant's own. */
export interface RoleView {
  readonly name: string;
  readonly builtIn: boolean;
  readonly description: string;
  readonly permissions: readonly Permission[];
  readonly version: number | null;
  readonly createdAt: string | null;
  readonly updatedAt: string | null;
}

export interface RoleDefinition {
  readonly description?: string | undefined;
  readonly permissions: readonly Permission[];
}

type LocateStore = (context: TenantContext) => Promise<TenantStore>;

function builtInView(name: (typeof BUILT_IN_ROLE_NAMES)[number]): RoleView {
  return {
    name,
    builtIn: true,
    description: BUILT_IN_ROLE_DESCRIPTIONS[name],
    permissions: BUILT_IN_ROLES[name],
    version: null,
    createdAt: null,
    updatedAt: null,
  };
}

function customView(row: RoleRow): RoleView {
  return { ...row, builtIn: false, permissions: row.permissions as Permission[] };
}

/**
 * A tenant's roles: the built-in ones (immutable) and its custom roles, each a named set of
 * catalog permissions. Every change is a ledger entry in the change's own transaction, and
 * the resolver forgets the tenant's roles once the change is durable.
 */
export class RoleService {
  readonly #locate: LocateStore;
  readonly #committer: GroupCommitter;
  readonly #resolver: RoleResolver;
  readonly #max: number;

  /** `max`: most custom roles one tenant may define. */
  constructor(locate: LocateStore, committer: GroupCommitter, resolver: RoleResolver, max: number) {
    this.#locate = locate;
    this.#committer = committer;
    this.#resolver = resolver;
    this.#max = max;
  }

  /**
   * Built-in roles first, in their fixed order, then the tenant's by name: the first `limit`
   * after the role named `after` that the caller may read (`readable`, by name), as if no
   * other existed, and whether another follows. No custom role can take a built-in role's
   * name, so a cursor naming a built-in role goes on with the built-in roles after it and then
   * every custom role, and one naming any other goes on with the custom roles named after it
   * (deleted or not). Custom roles are read whole: a tenant has at most customRolesMax.
   */
  async list(
    context: TenantContext,
    after: string | undefined,
    limit: number,
    readable: (name: string) => boolean,
  ): Promise<{ items: RoleView[]; more: boolean }> {
    const custom = (await (await this.#locate(context)).reader.authz.listRoles())
      .map(customView)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const builtIns = BUILT_IN_ROLE_NAMES.map(builtInView);
    const next =
      after === undefined
        ? [...builtIns, ...custom]
        : isBuiltInRole(after)
          ? [...builtIns.slice(BUILT_IN_ROLE_NAMES.indexOf(after) + 1), ...custom]
          : custom.filter((role) => role.name > after);
    const items: RoleView[] = [];
    for (const role of next) {
      if (!readable(role.name)) continue;
      if (items.length === limit) return { items, more: true };
      items.push(role);
    }
    return { items, more: false };
  }

  async get(context: TenantContext, name: string): Promise<RoleView> {
    if (isBuiltInRole(name)) return builtInView(name);
    const row = await (await this.#locate(context)).reader.authz.getRole(name);
    if (row === undefined) throw notFound(name);
    return customView(row);
  }

  /**
   * Creates or replaces a custom role; `created` tells which. The caller must hold every
   * permission the role will have and, when replacing it, every permission it has now
   * (`held`, see assertHeld): narrowing a role strips whoever holds it, as deleting does.
   */
  async put(
    context: TenantContext,
    name: string,
    definition: RoleDefinition,
    held: PermissionSet,
  ): Promise<{ created: boolean; role: RoleView }> {
    if (isBuiltInRole(name)) throw builtIn(name);
    const wanted = PermissionSet.of(definition.permissions);
    assertHeld(held, wanted, `the role ${name}`, '/body/permissions');
    // Catalog order, no repeats: the stored form of a permission set is canonical.
    const permissions = wanted.list();
    const store = await this.#locate(context);
    const result = await this.#committer.submit(store, async (tx, record) => {
      const existing = await tx.authz.getRole(name);
      if (existing !== undefined) assertCovers(held, existing, 'replacing');
      if (existing === undefined && (await tx.authz.listRoles()).length >= this.#max)
        throw new PalisadeError(
          'PALISADE_ROLE_LIMIT',
          `the tenant has ${this.#max} custom roles, the most allowed (customRolesMax); delete one first`,
        );
      const now = new Date().toISOString();
      const row: RoleRow = {
        name,
        description: definition.description ?? existing?.description ?? '',
        permissions,
        version: (existing?.version ?? 0) + 1,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      await tx.authz.putRole(row);
      record({
        actor: context.actor.id,
        action: existing === undefined ? 'role.create' : 'role.update',
        resource: `roles/${name}`,
        state: { description: row.description, permissions, version: row.version },
      });
      return { created: existing === undefined, role: customView(row) };
    });
    this.#resolver.invalidate(context.tenantId);
    return result;
  }

  /** Deletes a custom role; the caller must hold every permission it has (`held`). */
  async delete(context: TenantContext, name: string, held: PermissionSet): Promise<void> {
    if (isBuiltInRole(name)) throw builtIn(name);
    const store = await this.#locate(context);
    await this.#committer.submit(store, async (tx, record) => {
      const existing = await tx.authz.getRole(name);
      if (existing === undefined) throw notFound(name);
      assertCovers(held, existing, 'deleting');
      if (!(await tx.authz.deleteRole(name))) throw notFound(name);
      record({
        actor: context.actor.id,
        action: 'role.delete',
        resource: `roles/${name}`,
        state: null,
      });
    });
    this.#resolver.invalidate(context.tenantId);
  }
}

/**
 * A caller changes or removes only a role within its own permissions: whoever holds the role
 * loses what it gave, so this is acting on them, as acting on a user is (RoleGrants.checkCovers).
 */
function assertCovers(held: PermissionSet, role: RoleRow, act: 'replacing' | 'deleting'): void {
  assertHeld(
    held,
    PermissionSet.of(role.permissions.filter(isPermission)),
    `${act} the role ${role.name}`,
    '/params/name',
  );
}

function notFound(name: string): PalisadeError {
  return new PalisadeError(
    'PALISADE_ROLE_NOT_FOUND',
    `the tenant has no role ${JSON.stringify(name)}; GET /v1/roles lists them`,
  );
}

function builtIn(name: string): PalisadeError {
  return new PalisadeError(
    'PALISADE_ROLE_BUILT_IN',
    `${name} is a built-in role and cannot change; create a custom role with another name`,
  );
}
