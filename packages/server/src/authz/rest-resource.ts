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
 * The resource a REST route acts on, from its permission and path parameters: a record
 * carries its collection, a device route its device id, a collection route its name. A
 * route on the whole kind (a list, a create) acts on `*`; so do the device CA and
 * provisioning-key routes, whose ids name no device.
 */
export function restResource(
  tenantId: string,
  permission: Permission,
  url: string,
  params: Readonly<Record<string, string>>,
): ResourceRef {
  const kind = permission.slice(0, permission.indexOf(':'));
  const param = ID_PARAM[kind];
  const named = DEVICE_KINDS.has(kind) && !url.startsWith('/v1/devices/') ? undefined : param;
  const id = named === undefined ? undefined : params[named];
  if (kind === 'records') return { tenantId, id, attributes: { collection: params.name ?? '' } };
  if (kind === 'collections' && id !== undefined) return { tenantId, id, attributes: { name: id } };
  return { tenantId, id };
}
