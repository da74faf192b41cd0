import type { FastifyInstance } from 'fastify';
import type { DeviceServices, RpcInput } from '../../devices/index.ts';
import type { RpcRow } from '../../store/index.ts';
import { tenantOf } from '../auth-hook.ts';
import { UUID } from '../schemas.ts';
import { ID_PARAMS, TIMESTAMP } from './device-schemas.ts';

const RPC = {
  type: 'object',
  required: ['id', 'deviceId', 'method', 'persistent', 'status', 'createdAt', 'expiresAt'],
  properties: {
    id: UUID,
    deviceId: UUID,
    method: { type: 'string' },
    params: {},
    persistent: { type: 'boolean' },
    status: {
      type: 'string',
      enum: ['queued', 'sent', 'delivered', 'succeeded', 'failed', 'expired'],
    },
    response: {},
    error: { type: ['string', 'null'] },
    createdAt: TIMESTAMP,
    expiresAt: TIMESTAMP,
    updatedAt: TIMESTAMP,
  },
} as const;

function presentRpc(row: RpcRow) {
  return { ...row };
}

/** `/v1/devices/{id}/rpc…`: requests to a device and their answers. */
export function deviceRpcRoutes(app: FastifyInstance, devices: DeviceServices): void {
  app.post<{ Params: { id: string }; Body: RpcInput }>('/v1/devices/:id/rpc', {
    config: { auth: 'rpc:send' },
    schema: {
      summary:
        'Send an RPC request: persistent ones queue until the device connects; others wait for its answer',
      tags: ['rpc'],
      params: ID_PARAMS,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['method'],
        properties: {
          method: { type: 'string', minLength: 1, maxLength: 255 },
          params: {},
          timeoutMs: { type: 'integer', minimum: 1 },
          persistent: { type: 'boolean' },
        },
      },
      response: { 200: RPC, 201: RPC },
    },
    handler: async (request, reply) => {
      const row = await devices.rpc.create(tenantOf(request), request.params.id, request.body);
      reply.header('location', `/v1/devices/${row.deviceId}/rpc/${row.id}`);
      return reply.code(row.persistent ? 201 : 200).send(presentRpc(row));
    },
  });

  app.get<{ Params: { id: string; rpcId: string } }>('/v1/devices/:id/rpc/:rpcId', {
    config: { auth: 'rpc:read' },
    schema: {
      summary: 'Status (and answer) of an RPC request',
      tags: ['rpc'],
      params: {
        type: 'object',
        required: ['id', 'rpcId'],
        properties: {
          id: UUID,
          rpcId: UUID,
        },
      },
      response: { 200: RPC },
    },
    handler: async (request) =>
      presentRpc(await devices.rpc.get(tenantOf(request), request.params.id, request.params.rpcId)),
  });
}
