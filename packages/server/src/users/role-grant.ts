import {
  assertHeld,
  builtInRolePermissions,
  isBuiltInRole,
  type PermissionSet,
} from '../authz/index.ts';

/**
 * Users hold built-in roles only; a caller may give one only roles within its own
 * permissions, so an `admin` cannot make anyone (itself included, once signed in) an `owner`.
 */
export function checkGrantable(held: PermissionSet, roles: readonly string[]): void {
  for (const role of roles)
    if (isBuiltInRole(role))
      assertHeld(held, builtInRolePermissions(role), `giving the role ${role}`, '/body/roles');
}
