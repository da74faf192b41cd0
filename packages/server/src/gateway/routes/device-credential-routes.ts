import type { FastifyInstance } from 'fastify';
import type { CredentialInput, DeviceServices, IssueInput } from '../../devices/index.ts';
import { tenantOf } from '../auth-hook.ts';
import { NO_BODY, UUID } from '../schemas.ts';
import { DEVICE_TAGS, ID_PARAMS, TIMESTAMP } from './device-schemas.ts';

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

/** `/v1/devices/{id}/credentials…`: a device's access tokens, MQTT passwords and certificates. */
export function deviceCredentialRoutes(app: FastifyInstance, devices: DeviceServices): void {
  const { credentials } = devices;

  app.get<{ Params: { id: string } }>('/v1/devices/:id/credentials', {
    config: { auth: 'devices:read' },
    schema: {
      summary: "List a device's credentials (never their secrets)",
      tags: DEVICE_TAGS,
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
      tags: DEVICE_TAGS,
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
        tags: DEVICE_TAGS,
        params: {
          type: 'object',
          required: ['id', 'credentialId'],
          properties: {
            id: UUID,
            credentialId: UUID,
          },
        },
        response: { 204: NO_BODY },
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
}
