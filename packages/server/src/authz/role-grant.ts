import { PalisadeError } from '../errors/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import type { PermissionSet } from './permissions.ts';

/**
 * Checks that every name is a role of the tenant (built in or its own) and that `held` has
 * every permission of each: what a caller may give a user or a service client.
 */
export interface RoleGrants {
  checkGrantable(tenant: Tenant, held: PermissionSet, roles: readonly string[]): Promise<void>;
  /**
   * Throws unless `held` has every permission the roles give (names that are no longer roles
   * give nothing): whether a caller may act on a user or client that holds them. `what`
   * names the act.
   */
  checkCovers(
    tenant: Tenant,
    held: PermissionSet,
    roles: readonly string[],
    what: string,
  ): Promise<void>;
}

/**
 * A caller gives only what it holds: every permission of a role it grants (to a user or a
 * service client) or puts into a custom role must be its own, so no credential can mint a
 * stronger one. An `admin` cannot register an `owner` client, and a custom role that may
 * edit roles cannot widen itself. Throws PALISADE_FORBIDDEN naming the first missing
 * permission; `what` is the thing asked for, `path` the request field that asked.
 */
export function assertHeld(
  held: PermissionSet,
  wanted: PermissionSet,
  what: string,
  path: string,
): void {
  const missing = wanted.list().find((permission) => !held.has(permission));
  if (missing !== undefined)
    throw new PalisadeError(
      'PALISADE_FORBIDDEN',
      `${what} needs ${missing}, which this credential does not hold`,
      [{ path, message: `${what} is above the caller's permissions` }],
    );
}
