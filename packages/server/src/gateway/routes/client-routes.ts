import type { FastifyInstance } from 'fastify';
import type { Authorizer } from '../../authz/index.ts';
import { type IdentityService, type NewClient, SIGNING_ALGORITHMS } from '../../identity/index.ts';
import { permissionsOf, tenantOf, tenantPrincipalOf } from '../auth-hook.ts';
import { NO_BODY, pageOf, pageQuery, UUID } from '../schemas.ts';

const TAGS = ['clients'];
const TIMESTAMP = { type: 'string', format: 'date-time' } as const;
const ROLE = { type: 'string', minLength: 1, maxLength: 64 } as const;
const REDIRECT_URI = { type: 'string', minLength: 1, maxLength: 2000 } as const;
const ID_PARAMS = { type: 'object', required: ['id'], properties: { id: UUID } } as const;
const CLIENT = {
  type: 'object',
  required: [
    'id',
    'name',
    'kind',
    'public',
    'roles',
    'redirectUris',
    'tokenAlgorithm',
    'issuer',
    'createdAt',
  ],
  properties: {
    id: UUID,
    name: { type: 'string' },
    kind: { type: 'string', enum: ['service', 'user'] },
    public: { type: 'boolean', description: 'true: no secret (PKCE only)' },
    roles: { type: 'array', items: ROLE },
    redirectUris: { type: 'array', items: REDIRECT_URI },
    tokenAlgorithm: { type: 'string', enum: [...SIGNING_ALGORITHMS] },
    issuer: { type: 'string', description: 'the tenant issuer that serves this client' },
    createdAt: TIMESTAMP,
  },
} as const;
const CREATED = {
  ...CLIENT,
  required: [...CLIENT.required, 'secret'],
  properties: {
    ...CLIENT.properties,
    secret: {
      type: ['string', 'null'],
      description: 'the client secret, shown this once (null for a public client)',
    },
  },
} as const;

/** `/v1/clients…`: the tenant's OAuth clients (service clients and user-facing apps). */
export function clientRoutes(
  app: FastifyInstance,
  identity: IdentityService,
  authorizer: Authorizer,
  pageSizeMax: number,
): void {
  app.post<{ Body: NewClient }>('/v1/clients', {
    config: { auth: 'clients:write' },
    schema: {
      summary: 'Register an OAuth client; a secret is shown only in this response',
      tags: TAGS,
      body: {
        type: 'object',
        required: ['name', 'kind'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 255 },
          kind: {
            type: 'string',
            enum: ['service', 'user'],
            description: 'service: client credentials; user: users sign in (code + PKCE, device)',
          },
          roles: { type: 'array', minItems: 1, maxItems: 32, uniqueItems: true, items: ROLE },
          redirectUris: {
            type: 'array',
            maxItems: 20,
            uniqueItems: true,
            items: REDIRECT_URI,
          },
          public: { type: 'boolean' },
          tokenAlgorithm: { type: 'string', enum: [...SIGNING_ALGORITHMS] },
        },
      },
      response: { 201: CREATED },
    },
    handler: async (request, reply) => {
      const { client, secret } = await identity.clients.create(
        tenantOf(request),
        request.body,
        permissionsOf(request),
      );
      return reply.code(201).send({ ...client, secret: secret ?? null });
    },
  });

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/clients', {
    config: { auth: 'clients:read' },
    schema: {
      summary: "List the tenant's OAuth clients that the caller may read, with a cursor",
      tags: TAGS,
      querystring: pageQuery(pageSizeMax),
      response: { 200: pageOf(CLIENT) },
    },
    handler: async (request) => {
      // The route decided the listing; each client is decided as GET /v1/clients/{id} is.
      const principal = tenantPrincipalOf(request);
      const { cursor, limit } = request.query;
      return identity.clients.list(
        principal.context,
        cursor,
        limit,
        await authorizer.itemReads(principal, 'clients:read'),
      );
    },
  });

  app.get<{ Params: { id: string } }>('/v1/clients/:id', {
    config: { auth: 'clients:read' },
    schema: {
      summary: 'Show an OAuth client',
      tags: TAGS,
      params: ID_PARAMS,
      response: { 200: CLIENT },
    },
    handler: (request) => identity.clients.get(tenantOf(request), request.params.id),
  });

  app.delete<{ Params: { id: string } }>('/v1/clients/:id', {
    config: { auth: 'clients:write' },
    schema: {
      summary:
        'Delete an OAuth client: its grants and refresh tokens go, its access tokens are revoked',
      tags: TAGS,
      params: ID_PARAMS,
      response: { 204: NO_BODY },
    },
    handler: async (request, reply) => {
      await identity.clients.delete(tenantOf(request), request.params.id, permissionsOf(request));
      return reply.code(204).send();
    },
  });
}
