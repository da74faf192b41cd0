import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { Authorizer } from '../../authz/index.ts';
import type { EdgeBatch, EdgeService } from '../../edge/index.ts';
import { PalisadeError } from '../../errors/index.ts';
import { cursorPage, decodeCursor, page } from '../../records/index.ts';
import type { EdgeAlertRow, EdgeNodeRow } from '../../store/index.ts';
import { tenantOf, tenantPrincipalOf } from '../auth-hook.ts';
import { edgeNodeOf } from '../edge-node-auth.ts';
import { pageOf, pageQuery, UUID } from '../schemas.ts';

const TAGS = ['edge'];
const TIMESTAMP = { type: 'string', format: 'date-time' } as const;
const BASE64 = { type: 'string', minLength: 1, maxLength: 8192, pattern: '^[A-Za-z0-9+/]+=*$' };
const NAME = { type: 'string', minLength: 1, maxLength: 255 } as const;
const ID_PARAMS = { type: 'object', required: ['id'], properties: { id: UUID } } as const;
const TOKEN = {
  type: 'object',
  required: ['token', 'expiresAt'],
  properties: { token: { type: 'string' }, expiresAt: TIMESTAMP },
} as const;
const NODE = {
  type: 'object',
  required: ['id', 'name', 'status', 'keyVersion', 'createdAt', 'updatedAt'],
  properties: {
    id: UUID,
    name: NAME,
    status: { type: 'string', enum: ['pending', 'active', 'disabled'] },
    ed25519: { type: ['string', 'null'] },
    mldsa65: { type: ['string', 'null'] },
    keyVersion: { type: 'integer' },
    createdAt: TIMESTAMP,
    updatedAt: TIMESTAMP,
  },
} as const;
const ALERT = {
  type: 'object',
  required: ['id', 'kind', 'batchId', 'detail', 'createdAt', 'count', 'lastSeenAt'],
  properties: {
    id: UUID,
    kind: { type: 'string' },
    batchId: { type: ['string', 'null'], description: 'of the first occurrence' },
    detail: {
      type: 'object',
      additionalProperties: true,
      description: 'the evidence of the first occurrence',
    },
    createdAt: { ...TIMESTAMP, description: 'when it first occurred' },
    count: {
      type: 'integer',
      description:
        'occurrences of this kind against the node within edgeAlertWindowMs of the first, the first included',
    },
    lastSeenAt: { ...TIMESTAMP, description: 'when the last of them occurred' },
  },
} as const;
const RESULT = {
  type: 'object',
  required: ['batchId', 'applied', 'points', 'refused'],
  properties: {
    batchId: { type: 'string' },
    applied: { type: 'integer' },
    points: { type: 'integer' },
    refused: {
      type: 'array',
      items: {
        type: 'object',
        required: ['index', 'code'],
        properties: { index: { type: 'integer' }, code: { type: 'string' } },
      },
    },
  },
} as const;

function batchSchema(maxMessages: number) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['nodeId', 'batchId', 'createdAt', 'messages', 'signatures'],
    properties: {
      nodeId: UUID,
      batchId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
      createdAt: { ...TIMESTAMP, maxLength: 64 },
      seq: {
        type: 'integer',
        minimum: 1,
        maximum: Number.MAX_SAFE_INTEGER,
        description:
          "the node's count of the batches it formed under its current keys; a number another batch of the node already had applied refuses this one (409 PALISADE_EDGE_NODE_CLONED)",
      },
      messages: {
        type: 'array',
        description: `at most ${maxMessages} (edgeBatchMaxMessages); more is refused with 413, as a body over the limit is, so a node forms smaller batches`,
        minItems: 1,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['deviceId', 'payload', 'receivedAt'],
          properties: {
            deviceId: { type: 'string', maxLength: 64 },
            payload: {},
            receivedAt: { type: 'integer', minimum: 0 },
            kind: { type: 'string', enum: ['telemetry', 'attributes'] },
          },
        },
      },
      signatures: {
        type: 'object',
        additionalProperties: false,
        required: ['ed25519', 'mldsa65'],
        properties: { ed25519: BASE64, mldsa65: BASE64 },
      },
    },
  } as const;
}

function presentNode(row: EdgeNodeRow) {
  const { credentialHash: _secret, ...view } = row;
  return view;
}

function presentAlert(row: EdgeAlertRow) {
  const { nodeId: _node, ...view } = row;
  return view;
}

/**
 * Edge nodes: the tenant's registry (`/v1/edge-nodes…`), and the two routes a node calls,
 * `/v1/edge/enroll` (authenticated by the one-time token in the body) and `/v1/edge/batches`
 * (the node credential verified before the body is read, both signatures before it is applied).
 */
export function edgeRoutes(
  app: FastifyInstance,
  edge: EdgeService,
  nodeAuth: onRequestAsyncHookHandler,
  options: { authorizer: Authorizer; pageSizeMax: number; batchMaxMessages: number },
): void {
  app.post<{ Body: { name: string } }>('/v1/edge-nodes/enrollment-tokens', {
    config: { auth: 'edge:write' },
    schema: {
      summary: 'A one-time enrollment token for a new edge node (shown once, stored hashed)',
      tags: TAGS,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { name: NAME },
      },
      response: { 201: TOKEN },
    },
    handler: async (request, reply) =>
      reply.code(201).send(await edge.createToken(tenantOf(request), request.body.name)),
  });

  app.post<{ Body: { token: string; ed25519: string; mldsa65: string } }>('/v1/edge/enroll', {
    config: { auth: 'public' },
    schema: {
      summary: "Enroll an edge node: spend the token, record the node's public keys",
      tags: TAGS,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['token', 'ed25519', 'mldsa65'],
        properties: { token: { type: 'string', maxLength: 512 }, ed25519: BASE64, mldsa65: BASE64 },
      },
      response: {
        201: {
          type: 'object',
          required: ['nodeId', 'credential', 'keyVersion'],
          properties: {
            nodeId: UUID,
            credential: { type: 'string' },
            keyVersion: { type: 'integer' },
          },
        },
      },
    },
    handler: async (request, reply) => {
      const { token, ...keys } = request.body;
      return reply.code(201).send(await edge.enroll(token, keys));
    },
  });

  app.post<{ Body: EdgeBatch }>('/v1/edge/batches', {
    config: { auth: 'edge-node', unstorablePerItem: true },
    onRequest: nodeAuth,
    schema: {
      summary: 'A signed batch from an edge node, applied exactly once by (node, batch id)',
      tags: TAGS,
      body: batchSchema(options.batchMaxMessages),
      response: { 200: RESULT },
    },
    handler: async (request) => {
      const count = request.body.messages.length;
      if (count > options.batchMaxMessages)
        throw new PalisadeError(
          'PALISADE_PAYLOAD_TOO_LARGE',
          `a batch holds at most ${options.batchMaxMessages} messages (edgeBatchMaxMessages); this one holds ${count}: form smaller batches`,
        );
      return edge.applyBatch(edgeNodeOf(request), request.body);
    },
  });

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/edge-nodes', {
    config: { auth: 'edge:read' },
    schema: {
      summary: 'List the edge nodes the caller may read by id, with a cursor',
      tags: TAGS,
      querystring: pageQuery(options.pageSizeMax),
      response: { 200: pageOf(NODE) },
    },
    handler: async (request) => {
      const { limit, cursor } = request.query;
      // The route decided the listing; each node is decided as GET …/{id}/alerts is.
      const principal = tenantPrincipalOf(request);
      const result = cursorPage(
        await edge.list(
          principal.context,
          decodeCursor(cursor),
          limit,
          await options.authorizer.itemReads(principal, 'edge:read'),
        ),
      );
      return { ...result, items: result.items.map(presentNode) };
    },
  });

  app.patch<{ Params: { id: string }; Body: { disabled: boolean } }>('/v1/edge-nodes/:id', {
    config: { auth: 'edge:write' },
    schema: {
      summary: 'Disable (or enable again) an edge node; a disabled node cannot sync',
      tags: TAGS,
      params: ID_PARAMS,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['disabled'],
        properties: { disabled: { type: 'boolean' } },
      },
      response: { 200: NODE },
    },
    handler: async (request) =>
      presentNode(
        await edge.setStatus(tenantOf(request), request.params.id, request.body.disabled),
      ),
  });

  app.post<{ Params: { id: string } }>('/v1/edge-nodes/:id/rekey', {
    config: { auth: 'edge:write' },
    schema: {
      summary: "Revoke the node's keys and credential; it enrolls again with the returned token",
      tags: TAGS,
      params: ID_PARAMS,
      response: { 201: TOKEN },
    },
    handler: async (request, reply) =>
      reply.code(201).send(await edge.rekey(tenantOf(request), request.params.id)),
  });

  app.get<{ Params: { id: string }; Querystring: { limit: number; cursor?: string } }>(
    '/v1/edge-nodes/:id/alerts',
    {
      config: { auth: 'edge:read' },
      schema: {
        summary: 'Forged or conflicting batches refused from this node, oldest first',
        tags: TAGS,
        params: ID_PARAMS,
        querystring: pageQuery(options.pageSizeMax),
        response: { 200: pageOf(ALERT) },
      },
      handler: async (request) => {
        const { limit, cursor } = request.query;
        const rows = await edge.alerts(
          tenantOf(request),
          request.params.id,
          decodeCursor(cursor),
          limit + 1,
        );
        const result = page(rows, limit);
        return { ...result, items: result.items.map(presentAlert) };
      },
    },
  );
}
