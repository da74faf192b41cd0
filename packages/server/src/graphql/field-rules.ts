import type { Permission } from '../authz/index.ts';
import { LEDGER_PAGE_MAX } from '../ledger/index.ts';
import { defaultPageLimit } from '../records/index.ts';

/** Bounds the cost estimate needs from the server's settings. */
export interface SizeLimits {
  readonly pageSizeMax: number;
}

/** Field rules by type name, then field name. */
export type RuleTable = Readonly<Record<string, Readonly<Record<string, FieldRule>>>>;

type SizeOf = (args: Readonly<Record<string, unknown>>, limits: SizeLimits) => number;

/**
 * What selecting a field takes. A field that acts (reads from a store, writes, lists) names
 * its `permission`, decided by the Authorizer (roles, then the tenant's Cedar policies) on the
 * resource its arguments name, as REST decides it on the route's parameters; with
 * `resourceFromParent`, Cedar decides when the resolver knows the parent (a collection's
 * records); `also` names a second permission, decided on the resource its arguments name (a
 * record's proof shows the record: `records:read`), only where `alsoIf` holds of the
 * arguments when it is given. A `property` of what an acting field
 * fetched needs one of its permissions from the caller's roles. `size`: how many times the
 * field repeats its selection (a page, a range), from its arguments; the cost of what it
 * selects is multiplied by it.
 */
export type FieldRule =
  | {
      readonly permission: Permission;
      /** A second permission that what the field answers needs. */
      readonly also?: Permission;
      /** When `also` is needed: always without this. */
      readonly alsoIf?: (args: Readonly<Record<string, unknown>>) => boolean;
      readonly size?: SizeOf;
      readonly resourceFromParent?: true;
    }
  | { readonly property: readonly Permission[] };

function within(value: unknown, max: number): number {
  return typeof value === 'number' && Number.isFinite(value)
    ? Math.min(Math.max(value, 0), max)
    : max;
}

const PAGE: SizeOf = (args, limits) =>
  within(args.limit ?? defaultPageLimit(limits.pageSizeMax), limits.pageSizeMax);
const RANGE: SizeOf = (args) => within(Number(args.end) - Number(args.start), LEDGER_PAGE_MAX);
const ALL_COLLECTIONS: SizeOf = (_args, limits) => limits.pageSizeMax;

function properties(
  names: readonly string[],
  ...property: Permission[]
): Record<string, FieldRule> {
  return Object.fromEntries(names.map((name) => [name, { property }]));
}

function acting(names: readonly string[], permission: Permission): Record<string, FieldRule> {
  return Object.fromEntries(names.map((name) => [name, { permission }]));
}

/**
 * The rule of every field of the schema, by type and field: deny by default, the schema does
 * not build while a field has no entry here. Acting fields name exactly the permission of
 * their REST route. Properties of a record or collection accept the read or the write
 * permission, because a write answers what it wrote, as REST does; reaching them by a query
 * still takes the read permission of the acting field above them.
 */
export const FIELD_RULES: RuleTable = {
  Query: {
    collections: { permission: 'collections:read', size: ALL_COLLECTIONS },
    collection: { permission: 'collections:read' },
    record: { permission: 'records:read' },
    records: { permission: 'records:read', size: PAGE },
    ledger: { permission: 'ledger:read' },
  },
  Mutation: {
    defineCollection: { permission: 'collections:write' },
    ...acting(['createRecord'], 'records:write'),
    // Whether an expected version matched shows the record's version, as If-Match does.
    deleteRecord: {
      permission: 'records:write',
      also: 'records:read',
      alsoIf: (args) => args.expectedVersion !== undefined && args.expectedVersion !== null,
    },
    // They answer the record replaced, as PUT and PATCH do: that takes records:read on it.
    replaceRecord: { permission: 'records:write', also: 'records:read' },
    patchRecord: { permission: 'records:write', also: 'records:read' },
  },
  Collection: {
    ...properties(
      ['name', 'schema', 'encrypted', 'version', 'createdAt', 'updatedAt'],
      'collections:read',
      'collections:write',
    ),
    records: { permission: 'records:read', size: PAGE, resourceFromParent: true },
  },
  CollectionDefinition: properties(['created', 'collection'], 'collections:write'),
  Record: {
    ...properties(
      ['collection', 'id', 'version', 'createdAt', 'updatedAt', 'data'],
      'records:read',
      'records:write',
    ),
    proof: { permission: 'ledger:read' },
  },
  RecordPage: properties(['items', 'nextCursor'], 'records:read'),
  Ledger: {
    checkpoint: { permission: 'ledger:read' },
    entries: { permission: 'ledger:read', size: RANGE },
    // The proof shows the record's state: reading it takes what reading the record takes.
    recordProof: { permission: 'ledger:read', also: 'records:read' },
  },
  Checkpoint: properties(['size', 'checkpoint', 'platform'], 'ledger:read'),
  PlatformAnchor: properties(
    ['index', 'proof', 'checkpoint', 'cosignatures', 'witnessed'],
    'ledger:read',
  ),
  LedgerEntry: properties(['seq', 'batch', 'entry', 'leafHash'], 'ledger:read'),
  RecordProof: properties(
    ['entry', 'batch', 'entryProof', 'logProof', 'checkpoint', 'platform', 'salt', 'state'],
    'ledger:read',
  ),
  ProofAnchor: properties(['index', 'proof', 'checkpoint'], 'ledger:read'),
};

/** The rules of the users part of the schema (`USER_TYPE_DEFS`). */
export const USER_FIELD_RULES: RuleTable = {
  Query: {
    users: { permission: 'users:read', size: PAGE },
    user: { permission: 'users:read' },
  },
  User: properties(
    [
      'id',
      'email',
      'name',
      'roles',
      'disabled',
      'active',
      'totp',
      'failedSignIns',
      'lockedUntil',
      'version',
      'createdAt',
      'updatedAt',
    ],
    'users:read',
  ),
  UserPage: properties(['items', 'nextCursor'], 'users:read'),
};

/** The rules of the OAuth clients part of the schema (`CLIENT_TYPE_DEFS`). */
export const CLIENT_FIELD_RULES: RuleTable = {
  Query: {
    clients: { permission: 'clients:read', size: PAGE },
    client: { permission: 'clients:read' },
  },
  Client: properties(
    [
      'id',
      'name',
      'kind',
      'public',
      'roles',
      'redirectUris',
      'tokenAlgorithm',
      'issuer',
      'createdAt',
    ],
    'clients:read',
  ),
  ClientPage: properties(['items', 'nextCursor'], 'clients:read'),
};

/** The rules of a schema made of these parts, type by type. */
export function joinRules(parts: readonly RuleTable[]): RuleTable {
  const joined: Record<string, Record<string, FieldRule>> = {};
  for (const part of parts)
    for (const [type, rules] of Object.entries(part)) joined[type] = { ...joined[type], ...rules };
  return joined;
}

/** Reading the schema itself (`__schema`, `__type`): admins only. `__typename` is free. */
export const INTROSPECTION_PERMISSION: Permission = 'graphql:introspect';
