import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import { EDGE_RULES, EDGE_RULES_STORED, type EdgeRuleService } from '../../edge/index.ts';
import { PalisadeError } from '../../errors/index.ts';
import type { EdgeRuleSetRow } from '../../store/index.ts';
import { tenantOf } from '../auth-hook.ts';
import { edgeNodeOf } from '../edge-node-auth.ts';
import { NO_BODY, pageOf, pageQuery } from '../schemas.ts';

const TAGS = ['edge'];
const TIMESTAMP = { type: 'string', format: 'date-time' } as const;
const DEVICE_TYPE = { type: 'string', minLength: 1, maxLength: 64 } as const;
const TYPE_PARAMS = {
  type: 'object',
  required: ['deviceType'],
  properties: { deviceType: DEVICE_TYPE },
} as const;
const RULE_SET = {
  type: 'object',
  required: ['deviceType', 'rules', 'createdAt', 'updatedAt'],
  properties: {
    deviceType: DEVICE_TYPE,
    rules: EDGE_RULES_STORED,
    createdAt: TIMESTAMP,
    updatedAt: TIMESTAMP,
  },
} as const;
const BOOK = {
  type: 'object',
  required: ['revision', 'ruleSets', 'devices'],
  properties: {
    revision: { type: 'string' },
    ruleSets: {
      type: 'array',
      items: {
        type: 'object',
        required: ['deviceType', 'rules', 'updatedAt'],
        properties: { deviceType: DEVICE_TYPE, rules: EDGE_RULES_STORED, updatedAt: TIMESTAMP },
      },
    },
    devices: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'type'],
        properties: { id: { type: 'string' }, type: DEVICE_TYPE },
      },
    },
  },
} as const;

function cursorOf(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const type = Buffer.from(cursor, 'base64url').toString('utf8');
  if (Buffer.from(type, 'utf8').toString('base64url') !== cursor)
    throw new PalisadeError(
      'PALISADE_INVALID_CURSOR',
      'the cursor is not one this server issued; start again without it',
    );
  return type;
}

function page(rows: readonly EdgeRuleSetRow[], limit: number) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor:
      rows.length > limit && last !== undefined
        ? Buffer.from(last.deviceType, 'utf8').toString('base64url')
        : null,
  };
}

/**
 * Edge rules: the tenant sets one ordered rule set per device type (`/v1/edge-rules…`), and
 * each edge node pulls the rules of its devices' types with its credential (`/v1/edge/rules`,
 * with an ETag so an unchanged book costs a 304).
 */
export function edgeRuleRoutes(
  app: FastifyInstance,
  rules: EdgeRuleService,
  nodeAuth: onRequestAsyncHookHandler,
  options: { pageSizeMax: number },
): void {
  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/edge-rules', {
    config: { auth: 'edge:read' },
    schema: {
      summary: 'List edge rule sets by device type, with a cursor',
      tags: TAGS,
      querystring: pageQuery(options.pageSizeMax),
      response: { 200: pageOf(RULE_SET) },
    },
    handler: async (request) => {
      const { limit, cursor } = request.query;
      return page(await rules.list(tenantOf(request), cursorOf(cursor), limit + 1), limit);
    },
  });

  app.get<{ Params: { deviceType: string } }>('/v1/edge-rules/:deviceType', {
    config: { auth: 'edge:read' },
    schema: {
      summary: 'The edge rules of one device type',
      tags: TAGS,
      params: TYPE_PARAMS,
      response: { 200: RULE_SET },
    },
    handler: async (request) => rules.get(tenantOf(request), request.params.deviceType),
  });

  app.put<{ Params: { deviceType: string }; Body: { rules: Record<string, unknown>[] } }>(
    '/v1/edge-rules/:deviceType',
    {
      config: { auth: 'edge:write' },
      schema: {
        summary:
          'Set the edge rules of a device type (filter, rename, scale, deadband, downsample, alert), applied in order at the edge',
        tags: TAGS,
        params: TYPE_PARAMS,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['rules'],
          properties: { rules: EDGE_RULES },
        },
        response: { 200: RULE_SET },
      },
      handler: async (request) =>
        rules.put(tenantOf(request), request.params.deviceType, request.body.rules),
    },
  );

  app.delete<{ Params: { deviceType: string } }>('/v1/edge-rules/:deviceType', {
    config: { auth: 'edge:write' },
    schema: {
      summary: 'Remove the edge rules of a device type (its telemetry passes the edge untouched)',
      tags: TAGS,
      params: TYPE_PARAMS,
      response: { 204: NO_BODY },
    },
    handler: async (request, reply) => {
      await rules.delete(tenantOf(request), request.params.deviceType);
      return reply.code(204).send();
    },
  });

  app.get('/v1/edge/rules', {
    config: { auth: 'edge-node' },
    onRequest: nodeAuth,
    schema: {
      summary:
        "The calling edge node's rule book: the rule sets of its devices' types (ETag; If-None-Match answers 304)",
      tags: TAGS,
      headers: {
        type: 'object',
        properties: {
          'if-none-match': {
            type: 'string',
            description: 'the ETag of the rule book the node holds: 304 while it is current',
          },
        },
      },
      response: { 200: BOOK, 304: NO_BODY },
    },
    handler: async (request, reply) => {
      const book = await rules.book(edgeNodeOf(request));
      const etag = `"${book.revision}"`;
      reply.header('etag', etag);
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return book;
    },
  });
}
