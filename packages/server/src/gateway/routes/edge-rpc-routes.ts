import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { EdgeRpcRelay, ExchangeInput } from '../../edge/index.ts';
import { edgeNodeOf } from '../edge-node-auth.ts';
import { UUID } from '../schemas.ts';

const TIMESTAMP = { type: 'string', format: 'date-time' } as const;
/** A digest of shared attributes as the platform gives it (SHA-256, base64url), or none yet. */
const DIGEST = { type: 'string', pattern: '^(?:[A-Za-z0-9_-]{43})?$' } as const;

/**
 * The node's RPC exchange (`POST /v1/edge/rpc`, node credential): answers of its devices and
 * confirmations of what its last poll brought go up, requests for them come down, waiting
 * at most `waitMs` (a long poll bounded by `edgeRpcWaitMaxMs`) for one to arrive. A node that
 * sends `sharedDigest` also gets its devices' shared attributes when they change.
 */
export function edgeRpcRoutes(
  app: FastifyInstance,
  relay: EdgeRpcRelay,
  nodeAuth: onRequestAsyncHookHandler,
  options: { waitMaxMs: number; responsesMax: number },
): void {
  app.post<{ Body: ExchangeInput }>('/v1/edge/rpc', {
    config: { auth: 'edge-node' },
    onRequest: nodeAuth,
    schema: {
      summary:
        "An edge node hands over its devices' RPC answers and waits (long poll) for requests to them",
      tags: ['edge'],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['responses', 'received', 'waitMs'],
        properties: {
          responses: {
            type: 'array',
            maxItems: options.responsesMax,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['requestId', 'deviceId', 'response'],
              properties: { requestId: UUID, deviceId: UUID, response: {} },
            },
          },
          received: {
            type: 'array',
            maxItems: options.responsesMax,
            items: UUID,
            description: 'ids of the requests the last poll brought (they count as sent only then)',
          },
          waitMs: { type: 'integer', minimum: 0, maximum: options.waitMaxMs },
          sharedDigest: {
            ...DIGEST,
            description:
              "the digest the platform gave for the node's copy of its devices' shared attributes (empty for none)",
          },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['results', 'requests'],
          properties: {
            results: {
              type: 'array',
              items: {
                type: 'object',
                required: ['requestId', 'outcome'],
                properties: {
                  requestId: UUID,
                  outcome: { enum: ['accepted', 'not-pending', 'not-found'] },
                },
              },
            },
            requests: {
              type: 'array',
              items: {
                type: 'object',
                required: ['requestId', 'deviceId', 'method', 'params', 'expiresAt'],
                properties: {
                  requestId: UUID,
                  deviceId: UUID,
                  method: { type: 'string' },
                  params: {},
                  expiresAt: TIMESTAMP,
                },
              },
            },
            shared: {
              type: 'object',
              required: ['digest', 'complete', 'devices'],
              properties: {
                digest: DIGEST,
                complete: { type: 'boolean' },
                devices: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['deviceId', 'attributes'],
                    properties: {
                      deviceId: UUID,
                      attributes: { type: 'object', additionalProperties: true },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    handler: async (request, reply) => {
      const gone = new AbortController();
      const hangUp = () => {
        if (!reply.raw.writableFinished) gone.abort();
      };
      reply.raw.once('close', hangUp);
      try {
        return await relay.exchange(edgeNodeOf(request), request.body, gone.signal);
      } finally {
        reply.raw.off('close', hangUp);
      }
    },
  });
}
