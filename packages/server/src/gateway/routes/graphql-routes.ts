import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { GraphqlEndpoint, GraphqlRequest } from '../../graphql/index.ts';
import { tenantPrincipalOf } from '../auth-hook.ts';

const GRAPHQL_ERROR = {
  type: 'object',
  required: ['message', 'extensions'],
  properties: {
    message: { type: 'string' },
    locations: {
      type: 'array',
      items: {
        type: 'object',
        properties: { line: { type: 'integer' }, column: { type: 'integer' } },
      },
    },
    path: { type: 'array', items: { type: ['string', 'integer'] } },
    extensions: {
      type: 'object',
      required: ['code'],
      properties: {
        code: { type: 'string', description: 'a PALISADE_* code of docs/errors.md' },
        details: {
          type: 'array',
          items: {
            type: 'object',
            properties: { path: { type: 'string' }, message: { type: 'string' } },
          },
        },
      },
    },
  },
} as const;

/**
 * `POST /v1/graphql`: any tenant credential reaches it (the platform-admin token does not);
 * what the operation may select is decided field by field before it runs. Requests the
 * gateway refuses first (credential, body, query length) get problem+json like every route;
 * everything after is a GraphQL response whose errors carry `extensions.code`. An operation
 * over the request rate (charged for its store operations) is held for about `refusalDelayMs`
 * before its 429, as a request refused at the door is.
 */
export function graphqlRoutes(
  app: FastifyInstance,
  endpoint: GraphqlEndpoint,
  queryMaxLength: number,
  refusalDelayMs: number,
): void {
  app.post<{ Body: GraphqlRequest }>('/v1/graphql', {
    config: { auth: 'tenant' },
    schema: {
      summary:
        'Run a GraphQL query or mutation over collections, records, the ledger, users and OAuth clients (Apollo automatic persisted queries supported)',
      tags: ['graphql'],
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          query: { type: 'string', minLength: 1, maxLength: queryMaxLength },
          variables: { type: ['object', 'null'] },
          operationName: { type: ['string', 'null'], maxLength: 256 },
          extensions: {
            type: 'object',
            properties: {
              persistedQuery: {
                type: 'object',
                required: ['version', 'sha256Hash'],
                properties: {
                  version: { const: 1 },
                  sha256Hash: { type: 'string', pattern: '^[0-9a-f]{64}$' },
                },
              },
            },
          },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            data: { type: ['object', 'null'], additionalProperties: true },
            errors: { type: 'array', items: GRAPHQL_ERROR },
          },
        },
      },
    },
    handler: async (request, reply) => {
      const answer = await endpoint.run(tenantPrincipalOf(request), request.body, request.log);
      if (answer.status === 429 && refusalDelayMs > 0)
        await sleep(refusalDelayMs * (0.5 + Math.random()));
      return reply.code(answer.status).headers(answer.headers).send(answer.body);
    },
  });
}
