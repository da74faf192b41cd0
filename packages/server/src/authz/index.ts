export { isPermission, PERMISSIONS, type Permission, PermissionSet } from './permissions.ts';
export {
  BUILT_IN_ROLE_NAMES,
  BUILT_IN_ROLES,
  type BuiltInRoleName,
  builtInRolePermissions,
  isBuiltInRole,
} from './roles.ts';
