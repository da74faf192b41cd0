import type { FastifyInstance } from 'fastify';
import { type CaView, type DeviceServices, registrationCode } from '../../devices/index.ts';
import { tenantOf } from '../auth-hook.ts';
import { NO_BODY, UUID } from '../schemas.ts';
import { DEVICE_TAGS, TIMESTAMP } from './device-schemas.ts';

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

function presentCa(row: Omit<CaView, 'tenantId'>) {
  return {
    id: row.id,
    fingerprint: row.fingerprint,
    certificate: row.pem,
    generated: row.generated,
    createdAt: row.createdAt,
  };
}

/** `/v1/device-cas…`: the CA certificates a tenant trusts for its devices' certificates. */
export function deviceCaRoutes(app: FastifyInstance, devices: DeviceServices): void {
  const { credentials } = devices;

  app.get('/v1/device-cas/registration-code', {
    config: { auth: 'devices:read' },
    schema: {
      summary:
        "The tenant's registration code: the subject CN of the verificationCertificate an uploaded CA must come with",
      tags: DEVICE_TAGS,
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
      tags: DEVICE_TAGS,
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
      tags: DEVICE_TAGS,
      response: { 200: { type: 'array', items: CA } },
    },
    handler: async (request) => (await devices.cas.list(tenantOf(request))).map(presentCa),
  });

  app.delete<{ Params: { id: string } }>('/v1/device-cas/:id', {
    config: { auth: 'devices:write' },
    schema: {
      summary: 'Stop trusting a CA certificate',
      tags: DEVICE_TAGS,
      params: { type: 'object', required: ['id'], properties: { id: UUID } },
      response: { 204: NO_BODY },
    },
    handler: async (request, reply) => {
      await credentials.deleteCa(tenantOf(request), request.params.id);
      return reply.code(204).send();
    },
  });
}
