import type { FastifyInstance } from 'fastify';
import {
  type Authorizer,
  PERMISSIONS,
  type Permission,
  type RoleService,
} from '../../authz/index.ts';
import { decodeNameCursor, namePage } from '../../records/index.ts';
import { permissionsOf, tenantOf, tenantPrincipalOf } from '../auth-hook.ts';
import { NO_BODY, pageOf, pageQuery, ROLE_NAME } from '../schemas.ts';

const TAGS = ['roles'];
const NAME_PARAMS = {
  type: 'object',
  required: ['name'],
  properties: { name: ROLE_NAME },
} as const;
const TIMESTAMP_OR_NULL = { type: ['string', 'null'], format: 'date-time' } as const;

const ROLE = {
  type: 'object',
  required: ['name', 'builtIn', 'description', 'permissions', 'version', 'createdAt', 'updatedAt'],
  properties: {
    name: { type: 'string' },
    builtIn: { type: 'boolean', description: 'built-in roles cannot change' },
    description: { type: 'string' },
    permissions: { type: 'array', items: { type: 'string', enum: PERMISSIONS } },
    version: { type: ['integer', 'null'] },
    createdAt: TIMESTAMP_OR_NULL,
    updatedAt: TIMESTAMP_OR_NULL,
  },
} as const;

/** `/v1/roles…`: the built-in roles and a tenant's custom roles made of permissions. */
export function roleRoutes(
  app: FastifyInstance,
  roles: RoleService,
  authorizer: Authorizer,
  pageSizeMax: number,
): void {
  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/roles', {
    config: { auth: 'roles:read' },
    schema: {
      summary:
        'List the built-in roles, then the tenant’s custom roles by name, that the caller may read, with a cursor',
      tags: TAGS,
      querystring: pageQuery(pageSizeMax),
      response: { 200: pageOf(ROLE) },
    },
    handler: async (request) => {
      const { limit, cursor } = request.query;
      // The route decided the listing; each role is decided as GET /v1/roles/{name} is.
      const principal = tenantPrincipalOf(request);
      const readable = await authorizer.itemReads(principal, 'roles:read');
      return namePage(
        await roles.list(principal.context, decodeNameCursor(cursor), limit, readable),
      );
    },
  });

  app.get<{ Params: { name: string } }>('/v1/roles/:name', {
    config: { auth: 'roles:read' },
    schema: { summary: 'Show a role', tags: TAGS, params: NAME_PARAMS, response: { 200: ROLE } },
    handler: (request) => roles.get(tenantOf(request), request.params.name),
  });

  app.put<{
    Params: { name: string };
    Body: { description?: string; permissions: Permission[] };
  }>('/v1/roles/:name', {
    config: { auth: 'roles:write' },
    schema: {
      summary:
        'Create or replace a custom role (the caller must hold every permission it gives and, when replacing, every one it has)',
      tags: TAGS,
      params: NAME_PARAMS,
      body: {
        type: 'object',
        required: ['permissions'],
        additionalProperties: false,
        properties: {
          description: { type: 'string', maxLength: 500 },
          permissions: {
            type: 'array',
            uniqueItems: true,
            maxItems: PERMISSIONS.length,
            items: { type: 'string', enum: PERMISSIONS },
          },
        },
      },
      response: { 200: ROLE, 201: ROLE },
    },
    handler: async (request, reply) => {
      const { created, role } = await roles.put(
        tenantOf(request),
        request.params.name,
        request.body,
        permissionsOf(request),
      );
      if (created) reply.header('location', `/v1/roles/${role.name}`);
      return reply.code(created ? 201 : 200).send(role);
    },
  });

  app.delete<{ Params: { name: string } }>('/v1/roles/:name', {
    config: { auth: 'roles:write' },
    schema: {
      summary:
        'Delete a custom role within the caller’s permissions (credentials holding it lose what it granted)',
      tags: TAGS,
      params: NAME_PARAMS,
      response: { 204: NO_BODY },
    },
    handler: async (request, reply) => {
      await roles.delete(tenantOf(request), request.params.name, permissionsOf(request));
      return reply.code(204).send();
    },
  });
}
