import type { FastifyInstance } from 'fastify';
import type { Authorizer } from '../../authz/index.ts';
import type { DeviceInput, DeviceServices } from '../../devices/index.ts';
import { cursorPage, decodeCursor } from '../../records/index.ts';
import type { DeviceRow } from '../../store/index.ts';
import { tenantOf, tenantPrincipalOf } from '../auth-hook.ts';
import { NO_BODY, pageOf, pageQuery, UUID } from '../schemas.ts';
import { deviceCaRoutes } from './device-ca-routes.ts';
import { deviceCredentialRoutes } from './device-credential-routes.ts';
import { deviceProvisioningRoutes } from './device-provisioning-routes.ts';
import { deviceRpcRoutes } from './device-rpc-routes.ts';
import { DEVICE_FIELDS, DEVICE_TAGS, ID_PARAMS, TIMESTAMP } from './device-schemas.ts';

const DEVICE = {
  type: 'object',
  required: [
    'id',
    'name',
    'type',
    'labels',
    'attributes',
    'isGateway',
    'version',
    'createdAt',
    'updatedAt',
  ],
  properties: {
    id: UUID,
    ...DEVICE_FIELDS,
    clientAttributes: { type: 'object', additionalProperties: true },
    isGateway: { type: 'boolean' },
    version: { type: 'integer' },
    createdAt: TIMESTAMP,
    updatedAt: TIMESTAMP,
  },
} as const;
const CREATED_DEVICE = {
  ...DEVICE,
  required: [...DEVICE.required, 'credentials'],
  properties: {
    ...DEVICE.properties,
    credentials: {
      type: 'object',
      required: ['type', 'token'],
      properties: { type: { type: 'string', enum: ['access_token'] }, token: { type: 'string' } },
    },
  },
} as const;

function present(row: DeviceRow) {
  return { ...row };
}

/** `/v1/devices…`, `/v1/device-cas…`, `/v1/provisioning-keys` and `/api/v1/provision`. */
export function deviceRoutes(
  app: FastifyInstance,
  devices: DeviceServices,
  authorizer: Authorizer,
  pageSizeMax: number,
): void {
  const { registry } = devices;

  app.post<{ Body: DeviceInput & { isGateway?: boolean } }>('/v1/devices', {
    config: { auth: 'devices:write' },
    schema: {
      summary: 'Create a device; its access token is in this answer only',
      tags: DEVICE_TAGS,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { ...DEVICE_FIELDS, isGateway: { type: 'boolean' } },
      },
      response: { 201: CREATED_DEVICE },
    },
    handler: async (request, reply) => {
      const { device, token } = await registry.create(tenantOf(request), request.body);
      reply.header('location', `/v1/devices/${device.id}`);
      return reply
        .code(201)
        .send({ ...present(device), credentials: { type: 'access_token', token } });
    },
  });

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/devices', {
    config: { auth: 'devices:read' },
    schema: {
      summary: 'List the devices the caller may read by id, with a cursor',
      tags: DEVICE_TAGS,
      querystring: pageQuery(pageSizeMax),
      response: { 200: pageOf(DEVICE) },
    },
    handler: async (request) => {
      const { limit, cursor } = request.query;
      // The route decided the listing; each device is decided as GET /v1/devices/{id} is.
      const principal = tenantPrincipalOf(request);
      const result = cursorPage(
        await registry.list(
          principal.context,
          decodeCursor(cursor),
          limit,
          await authorizer.deviceReads(principal, 'devices:read'),
        ),
      );
      return { ...result, items: result.items.map(present) };
    },
  });

  app.get<{ Params: { id: string } }>('/v1/devices/:id', {
    config: { auth: 'devices:read' },
    schema: {
      summary: 'Read a device',
      tags: DEVICE_TAGS,
      params: ID_PARAMS,
      response: { 200: DEVICE },
    },
    handler: async (request) => present(await registry.get(tenantOf(request), request.params.id)),
  });

  app.patch<{ Params: { id: string }; Body: Partial<DeviceInput> }>('/v1/devices/:id', {
    config: { auth: 'devices:write' },
    schema: {
      summary:
        'Change a device (name, type, labels, attributes, telemetryKeys, edgeNodeId, gatewayId)',
      tags: DEVICE_TAGS,
      params: ID_PARAMS,
      body: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: DEVICE_FIELDS,
      },
      response: { 200: DEVICE },
    },
    handler: async (request) =>
      present(await registry.update(tenantOf(request), request.params.id, request.body)),
  });

  app.delete<{ Params: { id: string } }>('/v1/devices/:id', {
    config: { auth: 'devices:write' },
    schema: {
      summary:
        "Delete a device, its credentials, telemetry and RPC requests; a gateway's children stay, unlinked (gatewayId null)",
      tags: DEVICE_TAGS,
      params: ID_PARAMS,
      response: { 204: NO_BODY },
    },
    handler: async (request, reply) => {
      await registry.delete(tenantOf(request), request.params.id);
      return reply.code(204).send();
    },
  });

  // Registered in this order, which is the order of the OpenAPI document's paths.
  deviceCredentialRoutes(app, devices);
  deviceCaRoutes(app, devices);
  deviceProvisioningRoutes(app, devices);
  deviceRpcRoutes(app, devices);
}
