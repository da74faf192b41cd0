import type { FastifyInstance } from 'fastify';
import {
  type CaView,
  type CredentialInput,
  DEVICE_NAME_MAX_LENGTH,
  type DeviceInput,
  type DeviceServices,
  type IssueInput,
  type RpcInput,
  registrationCode,
} from '../../devices/index.ts';
import { decodeCursor, page } from '../../records/index.ts';
import type { DeviceRow, RpcRow } from '../../store/index.ts';
import { tenantOf } from '../auth-hook.ts';
import { pageOf, pageQuery, UUID } from '../schemas.ts';

const TAGS = ['devices'];
const TIMESTAMP = { type: 'string', format: 'date-time' } as const;
const KEY = { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' } as const;
const DEVICE_FIELDS = {
  name: { type: 'string', minLength: 1, maxLength: DEVICE_NAME_MAX_LENGTH },
  type: { type: 'string', minLength: 1, maxLength: 64 },
  labels: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 64 } },
  attributes: { type: 'object', additionalProperties: true },
  telemetryKeys: { type: ['array', 'null'], maxItems: 1024, items: KEY },
  edgeNodeId: { type: ['string', 'null'], format: 'uuid' },
  gatewayId: { type: ['string', 'null'], format: 'uuid' },
} as const;
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
const CREDENTIAL = {
  type: 'object',
  required: ['id', 'type', 'createdAt'],
  properties: {
    id: UUID,
    type: { type: 'string' },
    createdAt: TIMESTAMP,
    username: { type: 'string' },
    clientId: { type: ['string', 'null'] },
    fingerprint: { type: 'string' },
    token: { type: 'string' },
    certificate: { type: 'string' },
    caCertificate: { type: 'string' },
    privateKey: { type: 'string' },
  },
} as const;
const PEM = { type: 'string', minLength: 1, maxLength: 65_536 } as const;
const CREDENTIAL_INPUT = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['type'],
      properties: { type: { const: 'access_token' } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'username', 'password'],
      properties: {
        type: { const: 'mqtt_basic' },
        username: { type: 'string', pattern: '^[\\x21-\\x7e]{1,256}$' },
        password: { type: 'string', minLength: 8, maxLength: 1024 },
        clientId: { type: 'string', minLength: 1, maxLength: 256 },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'certificate'],
      properties: { type: { const: 'x509' }, certificate: { type: 'string', maxLength: 65_536 } },
    },
    {
      description: "Sign the device's CSR with a Palisade-generated CA (newest unless caId)",
      type: 'object',
      additionalProperties: false,
      required: ['type', 'csr'],
      properties: { type: { const: 'x509' }, csr: PEM, caId: UUID },
    },
    {
      description: 'Make a key pair and a certificate for it; the private key is shown once',
      type: 'object',
      additionalProperties: false,
      required: ['type', 'generate'],
      properties: { type: { const: 'x509' }, generate: { const: true }, caId: UUID },
    },
  ],
} as const;
const CA = {
  type: 'object',
  required: ['id', 'fingerprint', 'certificate', 'createdAt'],
  properties: {
    id: UUID,
    fingerprint: { type: 'string' },
    certificate: { type: 'string' },
    generated: { type: 'boolean' },
    createdAt: TIMESTAMP,
  },
} as const;
const RPC = {
  type: 'object',
  required: ['id', 'deviceId', 'method', 'persistent', 'status', 'createdAt', 'expiresAt'],
  properties: {
    id: UUID,
    deviceId: UUID,
    method: { type: 'string' },
    params: {},
    persistent: { type: 'boolean' },
    status: { type: 'string', enum: ['queued', 'sent', 'succeeded', 'failed', 'expired'] },
    response: {},
    error: { type: ['string', 'null'] },
    createdAt: TIMESTAMP,
    expiresAt: TIMESTAMP,
    updatedAt: TIMESTAMP,
  },
} as const;
const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: UUID },
} as const;

function present(row: DeviceRow) {
  return { ...row };
}

function presentRpc(row: RpcRow) {
  return { ...row };
}

/** `/v1/devices…`, `/v1/device-cas…`, `/v1/provisioning-keys` and `/api/v1/provision`. */
export function deviceRoutes(
  app: FastifyInstance,
  devices: DeviceServices,
  pageSizeMax: number,
): void {
  const { registry, credentials } = devices;

  app.post<{ Body: DeviceInput & { isGateway?: boolean } }>('/v1/devices', {
    config: { auth: 'devices:write' },
    schema: {
      summary: 'Create a device; its access token is in this answer only',
      tags: TAGS,
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
      summary: 'List devices by id, with a cursor',
      tags: TAGS,
      querystring: pageQuery(pageSizeMax),
      response: { 200: pageOf(DEVICE) },
    },
    handler: async (request) => {
      const { limit, cursor } = request.query;
      const rows = await registry.list(tenantOf(request), decodeCursor(cursor), limit + 1);
      const result = page(rows, limit);
      return { ...result, items: result.items.map(present) };
    },
  });

  app.get<{ Params: { id: string } }>('/v1/devices/:id', {
    config: { auth: 'devices:read' },
    schema: { summary: 'Read a device', tags: TAGS, params: ID_PARAMS, response: { 200: DEVICE } },
    handler: async (request) => present(await registry.get(tenantOf(request), request.params.id)),
  });

  app.patch<{ Params: { id: string }; Body: Partial<DeviceInput> }>('/v1/devices/:id', {
    config: { auth: 'devices:write' },
    schema: {
      summary:
        'Change a device (name, type, labels, attributes, telemetryKeys, edgeNodeId, gatewayId)',
      tags: TAGS,
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
      tags: TAGS,
      params: ID_PARAMS,
    },
    handler: async (request, reply) => {
      await registry.delete(tenantOf(request), request.params.id);
      return reply.code(204).send();
    },
  });

  app.get<{ Params: { id: string } }>('/v1/devices/:id/credentials', {
    config: { auth: 'devices:read' },
    schema: {
      summary: "List a device's credentials (never their secrets)",
      tags: TAGS,
      params: ID_PARAMS,
      response: { 200: { type: 'array', items: CREDENTIAL } },
    },
    handler: async (request) => credentials.credentials(tenantOf(request), request.params.id),
  });

  app.post<{
    Params: { id: string };
    Body: CredentialInput | ({ type: 'x509' } & IssueInput);
  }>('/v1/devices/:id/credentials', {
    config: { auth: 'devices:write' },
    schema: {
      summary:
        'Add an access token, MQTT user name and password, or X.509 certificate (uploaded, or issued by a generated CA from a CSR or a new key)',
      tags: TAGS,
      params: ID_PARAMS,
      body: CREDENTIAL_INPUT,
      response: { 201: CREDENTIAL },
    },
    handler: async (request, reply) => {
      const { body } = request;
      const context = tenantOf(request);
      const added =
        'csr' in body || 'generate' in body
          ? await devices.cas.issue(context, request.params.id, body)
          : await credentials.addCredential(context, request.params.id, body as CredentialInput);
      return reply.code(201).send(added);
    },
  });

  app.delete<{ Params: { id: string; credentialId: string } }>(
    '/v1/devices/:id/credentials/:credentialId',
    {
      config: { auth: 'devices:write' },
      schema: {
        summary: 'Revoke a device credential',
        tags: TAGS,
        params: {
          type: 'object',
          required: ['id', 'credentialId'],
          properties: {
            id: UUID,
            credentialId: UUID,
          },
        },
      },
      handler: async (request, reply) => {
        await credentials.deleteCredential(
          tenantOf(request),
          request.params.id,
          request.params.credentialId,
        );
        return reply.code(204).send();
      },
    },
  );

  const presentCa = (row: Omit<CaView, 'tenantId'>) => ({
    id: row.id,
    fingerprint: row.fingerprint,
    certificate: row.pem,
    generated: row.generated,
    createdAt: row.createdAt,
  });

  app.get('/v1/device-cas/registration-code', {
    config: { auth: 'devices:read' },
    schema: {
      summary:
        "The tenant's registration code: the subject CN of the verificationCertificate an uploaded CA must come with",
      tags: TAGS,
      response: {
        200: {
          type: 'object',
          required: ['registrationCode'],
          properties: { registrationCode: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
        },
      },
    },
    handler: async (request) => ({
      registrationCode: registrationCode(tenantOf(request).tenantId),
    }),
  });

  app.post<{
    Body:
      | { certificate: string; verificationCertificate?: string }
      | { generate: true; commonName?: string };
  }>('/v1/device-cas', {
    config: { auth: 'devices:write' },
    schema: {
      summary:
        "Trust a CA certificate (PEM) for the tenant's device certificates, with a verificationCertificate its key signed for the tenant's registration code; or have Palisade generate one (its private key sealed under the tenant's keys)",
      tags: TAGS,
      body: {
        oneOf: [
          {
            type: 'object',
            additionalProperties: false,
            // verificationCertificate is checked by the credential registry, so that its absence is
            // told as PALISADE_DEVICE_CA_UNVERIFIED rather than as a schema error.
            required: ['certificate'],
            properties: {
              certificate: { type: 'string', maxLength: 65_536 },
              verificationCertificate: { type: 'string', maxLength: 65_536 },
            },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['generate'],
            properties: {
              generate: { const: true },
              commonName: { type: 'string', minLength: 1, maxLength: 64 },
            },
          },
        ],
      },
      response: { 201: CA },
    },
    handler: async (request, reply) => {
      const { body } = request;
      const context = tenantOf(request);
      const ca =
        'generate' in body
          ? await devices.cas.generate(context, body.commonName)
          : {
              ...(await credentials.addCa(context, body.certificate, body.verificationCertificate)),
              generated: false,
            };
      return reply.code(201).send(presentCa(ca));
    },
  });

  app.get('/v1/device-cas', {
    config: { auth: 'devices:read' },
    schema: {
      summary: "The tenant's trusted CA certificates",
      tags: TAGS,
      response: { 200: { type: 'array', items: CA } },
    },
    handler: async (request) => (await devices.cas.list(tenantOf(request))).map(presentCa),
  });

  app.delete<{ Params: { id: string } }>('/v1/device-cas/:id', {
    config: { auth: 'devices:write' },
    schema: {
      summary: 'Stop trusting a CA certificate',
      tags: TAGS,
      params: { type: 'object', required: ['id'], properties: { id: UUID } },
    },
    handler: async (request, reply) => {
      await credentials.deleteCa(tenantOf(request), request.params.id);
      return reply.code(204).send();
    },
  });

  app.post('/v1/provisioning-keys', {
    config: { auth: 'devices:write' },
    schema: {
      summary: 'Issue a single-use provisioning key (shown once)',
      tags: TAGS,
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
        tags: TAGS,
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
