export {
  Authorizer,
  type DeviceEntity,
  forbidden,
  type ItemDecision,
  type TenantPrincipal,
} from './authorizer.ts';
export { cedarSchemaText, TENANT_ISOLATION_POLICY } from './cedar-engine.ts';
export type { ResourceRef } from './cedar-request.ts';
export { isPermission, PERMISSIONS, type Permission, PermissionSet } from './permissions.ts';
export { PolicyService } from './policy-service.ts';
export type { RequestFacts } from './request-context.ts';
export { restResource } from './rest-resource.ts';
export { assertHeld, type RoleGrants } from './role-grant.ts';
export { RoleResolver } from './role-resolver.ts';
export { type RoleDefinition, RoleService, type RoleView } from './role-service.ts';
export {
  BUILT_IN_ROLE_DESCRIPTIONS,
  BUILT_IN_ROLE_NAMES,
  BUILT_IN_ROLES,
  type BuiltInRoleName,
  builtInRolePermissions,
  isBuiltInRole,
} from './roles.ts';
