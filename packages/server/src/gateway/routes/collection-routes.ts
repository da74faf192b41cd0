import type { FastifyInstance } from 'fastify';
import type { Authorizer } from '../../authz/index.ts';
import { placingInputs } from '../../errors/index.ts';
import { type CollectionService, decodeNameCursor, namePage } from '../../records/index.ts';
import { tenantOf, tenantPrincipalOf } from '../auth-hook.ts';
import { BODY_INPUT } from '../input-places.ts';
import { COLLECTION, COLLECTION_NAME, pageOf, pageQuery } from '../schemas.ts';

const TAGS = ['collections'];
const NAME_PARAMS = {
  type: 'object',
  required: ['name'],
  properties: { name: COLLECTION_NAME },
} as const;

/** `/v1/collections…`: a tenant's collection definitions. */
export function collectionRoutes(
  app: FastifyInstance,
  collections: CollectionService,
  authorizer: Authorizer,
  pageSizeMax: number,
): void {
  app.put<{
    Params: { name: string };
    Body: { schema: Record<string, unknown>; encrypted?: string[] };
  }>('/v1/collections/:name', {
    config: { auth: 'collections:write' },
    schema: {
      summary: 'Define or redefine a collection',
      tags: TAGS,
      params: NAME_PARAMS,
      body: {
        type: 'object',
        required: ['schema'],
        additionalProperties: false,
        properties: {
          schema: {
            type: 'object',
            description: 'JSON Schema 2020-12 of each record; must have "type": "object"',
          },
          encrypted: {
            type: 'array',
            uniqueItems: true,
            maxItems: 64,
            items: { type: 'string', minLength: 1, maxLength: 64 },
          },
        },
      },
      response: { 200: COLLECTION, 201: COLLECTION },
    },
    handler: async (request, reply) => {
      const principal = tenantPrincipalOf(request);
      const { created, collection } = await placingInputs(
        collections.put(
          principal.context,
          request.params.name,
          { schema: request.body.schema, encrypted: request.body.encrypted ?? [] },
          await authorizer.recordReads(principal),
        ),
        BODY_INPUT,
      );
      return reply.code(created ? 201 : 200).send(collection);
    },
  });

  app.get<{ Params: { name: string } }>('/v1/collections/:name', {
    config: { auth: 'collections:read' },
    schema: {
      summary: 'Show a collection',
      tags: TAGS,
      params: NAME_PARAMS,
      response: { 200: COLLECTION },
    },
    handler: (request) => collections.get(tenantOf(request), request.params.name),
  });

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/collections', {
    config: { auth: 'collections:read' },
    schema: {
      summary: "List the tenant's collections the caller may read by name, with a cursor",
      tags: TAGS,
      querystring: pageQuery(pageSizeMax),
      response: { 200: pageOf(COLLECTION) },
    },
    handler: async (request) => {
      const { limit, cursor } = request.query;
      // The route decided the listing; each collection is decided as GET …/{name} is.
      const principal = tenantPrincipalOf(request);
      const readable = await authorizer.itemReads(principal, 'collections:read');
      return namePage(
        await collections.page(principal.context, decodeNameCursor(cursor), limit, readable),
      );
    },
  });
}
