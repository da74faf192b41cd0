/**
 * Every permission a tenant principal can hold, as `resource:action`. Routes, GraphQL fields
 * and MQTT topics each name one; a principal's roles resolve to a PermissionSet.
 * Append only: a permission's position is its bit.
 */
export const PERMISSIONS = [
  'collections:read',
  'collections:write',
  'records:read',
  'records:write',
  'ledger:read',
  'ledger:export',
  'keys:read',
  'keys:rotate',
  'devices:read',
  'devices:write',
  'telemetry:read',
  'telemetry:write',
  'rpc:send',
  'edge:read',
  'edge:write',
  'usage:read',
  'users:read',
  'users:write',
  'clients:read',
  'clients:write',
  'roles:read',
  'roles:write',
  'policies:read',
  'policies:write',
  'graphql:introspect',
  'settings:read',
  'settings:write',
  'rpc:read',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

const BIT = new Map<string, number>(PERMISSIONS.map((permission, index) => [permission, index]));
const WORDS = Math.ceil(PERMISSIONS.length / 32);

export function isPermission(value: string): value is Permission {
  return BIT.has(value);
}

/**
 * An immutable set of permissions as a bit field: `has` is one array read and a shift,
 * whatever the set, so checking it costs the same on every request.
 */
export class PermissionSet {
  static readonly EMPTY = new PermissionSet(new Uint32Array(WORDS));
  static readonly ALL = PermissionSet.of(PERMISSIONS);

  readonly #words: Uint32Array;

  private constructor(words: Uint32Array) {
    this.#words = words;
  }

  static of(permissions: Iterable<Permission>): PermissionSet {
    const words = new Uint32Array(WORDS);
    for (const permission of permissions) {
      const bit = BIT.get(permission);
      if (bit === undefined) throw new TypeError(`unknown permission ${permission}`);
      words[bit >>> 5]! |= 1 << (bit & 31);
    }
    return new PermissionSet(words);
  }

  has(permission: Permission): boolean {
    const bit = BIT.get(permission)!;
    return ((this.#words[bit >>> 5]! >>> (bit & 31)) & 1) === 1;
  }

  union(other: PermissionSet): PermissionSet {
    const words = new Uint32Array(WORDS);
    for (let i = 0; i < WORDS; i++) words[i] = this.#words[i]! | other.#words[i]!;
    return new PermissionSet(words);
  }

  /** The permissions in catalog order. */
  list(): Permission[] {
    return PERMISSIONS.filter((permission) => this.has(permission));
  }
}
