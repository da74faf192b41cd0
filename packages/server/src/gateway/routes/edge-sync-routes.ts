import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { EdgeCredentialSync } from '../../edge/index.ts';
import { decodeCursor, page } from '../../records/index.ts';
import { edgeNodeOf } from '../edge-node-auth.ts';
import { pageOf, pageQuery, UUID } from '../schemas.ts';

const CREDENTIAL = {
  oneOf: [
    {
      type: 'object',
      required: ['id', 'type', 'tokenSha256'],
      properties: {
        id: UUID,
        type: { const: 'access_token' },
        tokenSha256: { type: 'string', description: 'SHA-256 of the token, base64url' },
      },
    },
    {
      type: 'object',
      required: ['id', 'type', 'username', 'clientId', 'passwordHash'],
      properties: {
        id: UUID,
        type: { const: 'mqtt_basic' },
        username: { type: 'string' },
        clientId: { type: ['string', 'null'] },
        passwordHash: { type: 'string', description: 'scrypt$N$r$p$salt$hash' },
      },
    },
    {
      type: 'object',
      required: ['id', 'type', 'fingerprint'],
      properties: {
        id: UUID,
        type: { const: 'x509' },
        fingerprint: {
          type: 'string',
          description: "SHA-256 of the certificate's DER, lower-case hex",
        },
      },
    },
  ],
} as const;
const DEVICE = {
  type: 'object',
  required: ['id', 'name', 'type', 'credentials'],
  properties: {
    id: UUID,
    name: { type: 'string' },
    type: { type: 'string' },
    credentials: { type: 'array', items: CREDENTIAL },
  },
} as const;

const CAS = {
  type: 'object',
  required: ['items'],
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'certificate'],
        properties: { id: UUID, certificate: { type: 'string', description: 'PEM' } },
      },
    },
  },
} as const;

/**
 * What an edge node pulls down (authenticated by its node credential): the credential hashes
 * and certificate fingerprints of the devices assigned to it (`edgeNodeId`) and its tenant's
 * device CAs, so devices can connect to the node offline.
 */
export function edgeSyncRoutes(
  app: FastifyInstance,
  sync: EdgeCredentialSync,
  nodeAuth: onRequestAsyncHookHandler,
  options: { pageSizeMax: number },
): void {
  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/edge/device-credentials', {
    config: { auth: 'edge-node' },
    onRequest: nodeAuth,
    schema: {
      summary: "The credential hashes of this edge node's devices, by device id with a cursor",
      tags: ['edge'],
      querystring: pageQuery(options.pageSizeMax),
      response: { 200: pageOf(DEVICE) },
    },
    handler: async (request) => {
      const { limit, cursor } = request.query;
      const rows = await sync.page(edgeNodeOf(request), decodeCursor(cursor), limit + 1);
      return page(rows, limit);
    },
  });
  app.get('/v1/edge/device-cas', {
    config: { auth: 'edge-node' },
    onRequest: nodeAuth,
    schema: {
      summary: "The CA certificates this edge node's tenant trusts for its devices' certificates",
      tags: ['edge'],
      response: { 200: CAS },
    },
    handler: async (request) => ({ items: await sync.cas(edgeNodeOf(request)) }),
  });
}
