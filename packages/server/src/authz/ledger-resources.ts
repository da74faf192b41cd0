import type { Permission } from './permissions.ts';

/** The route that shows what the entries of a ledger resource commit to. */
export interface ReadRoute {
  readonly permission: Permission;
  readonly url: string;
  readonly params: Readonly<Record<string, string>>;
}

/** A resource pattern, the permission and URL of its read route, and the route parameters it captures. */
type Row = readonly [RegExp, Permission, string, ...string[]];

/**
 * The read route of each kind of ledger resource but records, by the resource name the
 * services give their entries. A resource that matches none has no route a tenant reads it
 * by: the tenant itself and its API keys (the platform admin's), provisioning keys, edge
 * batches and telemetry retention runs.
 */
const ROWS: readonly Row[] = [
  [/^collections\/([^/]+)$/, 'collections:read', '/v1/collections/:name', 'name'],
  [/^devices\/([^/]+)(?:\/attributes)?$/, 'devices:read', '/v1/devices/:id', 'id'],
  [/^devices\/([^/]+)\/credentials\/[^/]+$/, 'devices:read', '/v1/devices/:id/credentials', 'id'],
  [/^devices\/([^/]+)\/rpc\/([^/]+)$/, 'rpc:read', '/v1/devices/:id/rpc/:rpcId', 'id', 'rpcId'],
  [/^telemetry\/(?!_)([^/]+)$/, 'telemetry:read', '/v1/devices/:id/telemetry', 'id'],
  [/^device-cas\/[^/]+$/, 'devices:read', '/v1/device-cas'],
  [/^edge-nodes\/[^/]+$/, 'edge:read', '/v1/edge-nodes'],
  [/^edge-nodes\/([^/]+)\/alerts\/[^/]+$/, 'edge:read', '/v1/edge-nodes/:id/alerts', 'id'],
  [/^edge-rules\/([^/]+)$/, 'edge:read', '/v1/edge-rules/:deviceType', 'deviceType'],
  [/^users\/([^/]+)$/, 'users:read', '/v1/users/:id', 'id'],
  [/^clients\/([^/]+)$/, 'clients:read', '/v1/clients/:id', 'id'],
  [/^roles\/([^/]+)$/, 'roles:read', '/v1/roles/:name', 'name'],
  [/^policies$/, 'policies:read', '/v1/policies'],
  [/^settings\/cors$/, 'settings:read', '/v1/settings/cors'],
  [/^keys(?:\/.+)?$/, 'keys:read', '/v1/keys'],
];

/** The issuer's published signing key ids: its JWKS shows them to anyone. */
const PUBLIC = /^oidc\/keys$/;

/**
 * How a tenant principal reads what the entries of a ledger resource (not a record) commit
 * to: `public` when anyone may, its read route, or undefined when no tenant route shows it.
 */
export function readRouteOf(resource: string): ReadRoute | 'public' | undefined {
  if (PUBLIC.test(resource)) return 'public';
  for (const [pattern, permission, url, ...names] of ROWS) {
    const match = pattern.exec(resource);
    if (match === null) continue;
    const params: Record<string, string> = {};
    names.forEach((name, i) => {
      params[name] = match[i + 1]!;
    });
    return { permission, url, params };
  }
  return undefined;
}
