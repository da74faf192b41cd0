import { builtInRolePermissions, isBuiltInRole, type PermissionSet } from '../authz/index.ts';
import { PalisadeError } from '../errors/index.ts';

/**
 * A caller may give a user only roles whose every permission the caller holds itself, so an
 * `admin` cannot make anyone (itself included, once signed in) an `owner`.
 */
export function checkGrantable(held: PermissionSet, roles: readonly string[]): void {
  for (const role of roles) {
    if (!isBuiltInRole(role)) continue;
    const missing = builtInRolePermissions(role)
      .list()
      .find((permission) => !held.has(permission));
    if (missing !== undefined)
      throw new PalisadeError(
        'PALISADE_FORBIDDEN',
        `giving the role ${role} needs ${missing}, which this credential does not hold`,
        [{ path: '/body/roles', message: `${role} is above the caller's permissions` }],
      );
  }
}
