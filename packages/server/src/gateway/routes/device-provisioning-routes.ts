import type { FastifyInstance } from 'fastify';
import type { DeviceServices } from '../../devices/index.ts';
import { tenantOf } from '../auth-hook.ts';
import { UUID } from '../schemas.ts';
import { DEVICE_FIELDS, DEVICE_TAGS, TIMESTAMP } from './device-schemas.ts';

/** `/v1/provisioning-keys`, and `/api/v1/provision` where a device registers itself with one. */
export function deviceProvisioningRoutes(app: FastifyInstance, devices: DeviceServices): void {
  const { credentials } = devices;

  app.post('/v1/provisioning-keys', {
    config: { auth: 'devices:write' },
    schema: {
      summary: 'Issue a single-use provisioning key (shown once)',
      tags: DEVICE_TAGS,
      response: {
        201: {
          type: 'object',
          required: ['id', 'key', 'createdAt'],
          properties: { id: UUID, key: { type: 'string' }, createdAt: TIMESTAMP },
        },
      },
    },
    handler: async (request, reply) =>
      reply.code(201).send(await credentials.issueProvisioningKey(tenantOf(request))),
  });

  app.post<{ Body: { deviceName: string; provisionDeviceKey: string; deviceType?: string } }>(
    '/api/v1/provision',
    {
      config: { auth: 'public' },
      schema: {
        summary:
          'A device registers itself with a provisioning key (ThingsBoard device provisioning)',
        tags: DEVICE_TAGS,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['deviceName', 'provisionDeviceKey'],
          properties: {
            deviceName: DEVICE_FIELDS.name,
            deviceType: DEVICE_FIELDS.type,
            provisionDeviceKey: { type: 'string', minLength: 1, maxLength: 512 },
          },
        },
        response: {
          201: {
            type: 'object',
            required: ['status', 'deviceId', 'credentialsType', 'credentialsValue'],
            properties: {
              status: { const: 'SUCCESS' },
              deviceId: UUID,
              credentialsType: { const: 'ACCESS_TOKEN' },
              credentialsValue: { type: 'string', description: "the device's access token" },
            },
          },
        },
      },
      handler: async (request, reply) => {
        const { device, token } = await devices.authority.provision(
          request.body.provisionDeviceKey,
          {
            name: request.body.deviceName,
            type: request.body.deviceType,
          },
        );
        return reply.code(201).send({
          status: 'SUCCESS',
          deviceId: device.id,
          credentialsType: 'ACCESS_TOKEN',
          credentialsValue: token,
        });
      },
    },
  );
}
