import { PERMISSIONS, type Permission, PermissionSet } from './permissions.ts';

export const BUILT_IN_ROLE_NAMES = ['owner', 'admin', 'developer', 'viewer', 'device'] as const;
export type BuiltInRoleName = (typeof BUILT_IN_ROLE_NAMES)[number];

const READS = PERMISSIONS.filter((permission) => permission.endsWith(':read'));
const GOVERNANCE: readonly Permission[] = ['roles:write', 'policies:write', 'keys:rotate'];

/**
 * The built-in roles. `owner` holds everything; `admin` everything but changing roles,
 * policies and keys; `developer` builds on the data plane; `viewer` reads data but not who
 * may do what, nor the commands sent to devices and their answers (RPC params and results
 * can carry actuation commands and sensitive readings); `device` only sends telemetry and reads its own commands.
 */
export const BUILT_IN_ROLES: Readonly<Record<BuiltInRoleName, readonly Permission[]>> = {
  owner: PERMISSIONS,
  admin: PERMISSIONS.filter((permission) => !GOVERNANCE.includes(permission)),
  developer: [
    ...READS.filter((permission) => !['users:read', 'clients:read'].includes(permission)),
    'collections:write',
    'records:write',
    'devices:write',
    'telemetry:write',
    'rpc:send',
    'edge:write',
  ],
  viewer: READS.filter(
    (permission) =>
      ![
        'users:read',
        'clients:read',
        'roles:read',
        'policies:read',
        'keys:read',
        'rpc:read',
      ].includes(permission),
  ),
  device: ['telemetry:write'],
};

/** What each built-in role is for, as `GET /v1/roles` shows it. */
export const BUILT_IN_ROLE_DESCRIPTIONS: Readonly<Record<BuiltInRoleName, string>> = {
  owner: 'Everything, including roles, policies and key rotation',
  admin: 'Everything except changing roles, policies and keys',
  developer: 'Builds on the data plane: data, devices, telemetry, RPC and edge nodes',
  viewer: 'Reads data; cannot see who may do what, keys, nor RPC requests and answers',
  device: 'Sends telemetry',
};

const BUILT_IN_SETS = new Map<string, PermissionSet>(
  Object.entries(BUILT_IN_ROLES).map(([name, permissions]) => [
    name,
    PermissionSet.of(permissions),
  ]),
);

export function isBuiltInRole(name: string): name is BuiltInRoleName {
  return BUILT_IN_SETS.has(name);
}

/** The permission set of a built-in role, made once. */
export function builtInRolePermissions(name: BuiltInRoleName): PermissionSet {
  return BUILT_IN_SETS.get(name)!;
}
