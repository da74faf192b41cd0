import type { SchemaJson, Type } from '@cedar-policy/cedar-wasm/nodejs';
import { PERMISSIONS, type Permission } from './permissions.ts';
import { CONTEXT_ATTRIBUTES } from './request-context.ts';

/** The Cedar namespace of every Palisade entity type and action. */
export const CEDAR_NAMESPACE = 'Palisade';

/** Who can act: each kind of tenant credential, a member of the roles it holds. */
export const PRINCIPAL_TYPES = ['ApiKey', 'Client', 'User', 'Device'] as const;
export type PrincipalType = (typeof PRINCIPAL_TYPES)[number];

/**
 * The entity type each permission acts on, by the permission's resource part; a part not
 * named here gets its own type, the part capitalized (`widgets:read` acts on `Widgets`).
 * Every action applies to exactly one resource type, so a permission names its resource's
 * type.
 */
const RESOURCE_TYPE_OF: Readonly<Record<string, string>> = {
  collections: 'Collection',
  records: 'Record',
  ledger: 'Ledger',
  keys: 'DataKeys',
  devices: 'Device',
  telemetry: 'Device',
  rpc: 'Device',
  edge: 'EdgeNode',
  usage: 'Usage',
  users: 'User',
  clients: 'Client',
  roles: 'Role',
  policies: 'PolicySet',
  graphql: 'GraphQL',
  settings: 'Settings',
};

const STRING: Type<string> = { type: 'String' };
const optional = (type: Type<string>) => ({ ...type, required: false });

/** Attributes beyond `tenant`, which every entity has. */
const ATTRIBUTES: Readonly<Record<string, Record<string, Type<string> & { required?: boolean }>>> =
  {
    Collection: { name: optional(STRING) },
    Record: { collection: STRING },
    Device: {
      name: optional(STRING),
      type: optional(STRING),
      labels: optional({ type: 'Set', element: STRING }),
    },
  };

/** The resource entity type that `permission` acts on. */
export function resourceTypeOf(permission: Permission): string {
  const part = permission.slice(0, permission.indexOf(':'));
  return RESOURCE_TYPE_OF[part] ?? `${part[0]!.toUpperCase()}${part.slice(1)}`;
}

function entityTypes(): SchemaJson<string>[string]['entityTypes'] {
  const names = new Set<string>(['Role', ...PRINCIPAL_TYPES, ...PERMISSIONS.map(resourceTypeOf)]);
  const types: SchemaJson<string>[string]['entityTypes'] = {};
  for (const name of names) {
    types[name] = {
      ...((PRINCIPAL_TYPES as readonly string[]).includes(name) ? { memberOfTypes: ['Role'] } : {}),
      shape: {
        type: 'Record',
        attributes: { tenant: STRING, ...ATTRIBUTES[name] },
      },
    };
  }
  return types;
}

/**
 * The schema tenant policies are validated against: principals are the credential kinds
 * (members of their roles), actions are the permissions, resources are what each permission
 * acts on, and every action's context is the request's (see request-context.ts). Every
 * entity carries `tenant`, which the platform's isolation rule compares.
 */
export const CEDAR_SCHEMA: SchemaJson<string> = {
  [CEDAR_NAMESPACE]: {
    commonTypes: { RequestContext: { type: 'Record', attributes: CONTEXT_ATTRIBUTES } },
    entityTypes: entityTypes(),
    actions: Object.fromEntries(
      PERMISSIONS.map((permission) => [
        permission,
        {
          appliesTo: {
            principalTypes: [...PRINCIPAL_TYPES],
            resourceTypes: [resourceTypeOf(permission)],
            context: { type: 'EntityOrCommon', name: 'RequestContext' },
          },
        },
      ]),
    ),
  },
};
