import type { ResourceRef } from './cedar-request.ts';
import type { Permission } from './permissions.ts';

/** The route parameter naming the resource, by the permission's resource part. */
const ID_PARAM: Readonly<Record<string, string>> = {
  collections: 'name',
  records: 'id',
  devices: 'id',
  telemetry: 'id',
  rpc: 'id',
  edge: 'id',
  users: 'id',
  clients: 'id',
  roles: 'name',
};

const DEVICE_KINDS = new Set(['devices', 'telemetry', 'rpc']);

/**
 * Device routes outside `/v1/devices/` that name one device by `deviceId` in their query.
 * Only these: elsewhere a query parameter the route ignores must not choose the resource.
 */
const DEVICE_IN_QUERY = new Set(['/v1/telemetry/stream']);

function idOf(
  kind: string,
  url: string,
  params: Readonly<Record<string, string>>,
  query: Readonly<Record<string, unknown>> | undefined,
): string | undefined {
  if (!DEVICE_KINDS.has(kind) || url.startsWith('/v1/devices/')) {
    const param = ID_PARAM[kind];
    return param === undefined ? undefined : params[param];
  }
  const named = DEVICE_IN_QUERY.has(url) ? query?.deviceId : undefined;
  return typeof named === 'string' ? named : undefined;
}

/**
 * The resource a REST route acts on, from its permission and path parameters: a record
 * carries its collection, a device route its device id, a collection route its name. A
 * route on the whole kind (a list, a create) acts on `*`; so do the device CA and
 * provisioning-key routes, whose ids name no device. The telemetry stream of one device
 * (`?deviceId=`) acts on that device.
 */
export function restResource(
  tenantId: string,
  permission: Permission,
  url: string,
  params: Readonly<Record<string, string>>,
  query?: Readonly<Record<string, unknown>>,
): ResourceRef {
  const kind = permission.slice(0, permission.indexOf(':'));
  const id = idOf(kind, url, params, query);
  if (kind === 'records') return { tenantId, id, attributes: { collection: params.name ?? '' } };
  return id === undefined ? { tenantId } : itemResource(tenantId, permission, id);
}

/**
 * The resource one item is, named by its id (a collection or role by its name), as a route on
 * that item names it: a collection carries its name too. Not for a record, which needs its
 * collection, nor for the attributes of a device, which only its row has.
 */
export function itemResource(tenantId: string, permission: Permission, id: string): ResourceRef {
  return permission.startsWith('collections:')
    ? { tenantId, id, attributes: { name: id } }
    : { tenantId, id };
}
