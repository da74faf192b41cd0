import type { FastifyInstance } from 'fastify';
import type { TenantAdmin } from '../../control/index.ts';
import { decodeCursor, page } from '../../records/index.ts';
import {
  API_KEY,
  ISSUED_API_KEY,
  NO_BODY,
  PLAN,
  pageOf,
  pageQuery,
  ROLE_NAMES,
  SLUG,
  TENANT,
  UUID,
} from '../schemas.ts';

const TENANT_ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: UUID },
} as const;
const TAGS = ['platform'];

/** `/v1/platform/tenants…`: the platform admin's tenant lifecycle and API keys. */
export function platformTenantRoutes(
  app: FastifyInstance,
  admin: TenantAdmin,
  pageSizeMax: number,
): void {
  const config = { auth: 'admin' as const };

  app.post<{ Body: { slug: string; name: string; plan?: string } }>('/v1/platform/tenants', {
    config,
    schema: {
      summary: 'Create a tenant',
      tags: TAGS,
      body: {
        type: 'object',
        required: ['slug', 'name'],
        additionalProperties: false,
        properties: {
          slug: SLUG,
          name: { type: 'string', minLength: 1, maxLength: 200 },
          plan: PLAN,
        },
      },
      response: { 201: TENANT },
    },
    handler: async (request, reply) => {
      const tenant = await admin.create(request.body);
      return reply.code(201).header('location', `/v1/platform/tenants/${tenant.id}`).send(tenant);
    },
  });

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/platform/tenants', {
    config,
    schema: {
      summary: 'List tenants',
      tags: TAGS,
      querystring: pageQuery(pageSizeMax),
      response: { 200: pageOf(TENANT) },
    },
    handler: async (request) => {
      const { limit, cursor } = request.query;
      const rows = await admin.list(decodeCursor(cursor), limit + 1);
      return page(rows, limit);
    },
  });

  app.get<{ Params: { id: string } }>('/v1/platform/tenants/:id', {
    config,
    schema: {
      summary: 'Show a tenant',
      tags: TAGS,
      params: TENANT_ID_PARAMS,
      response: { 200: TENANT },
    },
    handler: (request) => admin.get(request.params.id),
  });

  app.patch<{
    Params: { id: string };
    Body: { name?: string; plan?: string; status?: 'active' | 'suspended' };
  }>('/v1/platform/tenants/:id', {
    config,
    schema: {
      summary: 'Rename, re-plan, suspend or resume a tenant',
      tags: TAGS,
      params: TENANT_ID_PARAMS,
      body: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 200 },
          plan: PLAN,
          status: { type: 'string', enum: ['active', 'suspended'] },
        },
      },
      response: { 200: TENANT },
    },
    handler: (request) => admin.update(request.params.id, request.body),
  });

  app.delete<{ Params: { id: string } }>('/v1/platform/tenants/:id', {
    config,
    schema: {
      summary: 'Delete a tenant and its data',
      tags: TAGS,
      params: TENANT_ID_PARAMS,
      response: { 204: NO_BODY },
    },
    handler: async (request, reply) => {
      await admin.delete(request.params.id);
      return reply.code(204).send();
    },
  });

  app.post<{ Params: { id: string }; Body: { name?: string; roles?: string[] } | undefined }>(
    '/v1/platform/tenants/:id/api-keys',
    {
      config,
      schema: {
        summary:
          'Issue a tenant API key acting with roles (default owner; the secret is shown once)',
        tags: TAGS,
        params: TENANT_ID_PARAMS,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            roles: ROLE_NAMES,
          },
        },
        response: { 201: ISSUED_API_KEY },
      },
      handler: async (request, reply) =>
        reply.code(201).send(await admin.issueApiKey(request.params.id, request.body ?? {})),
    },
  );

  app.get<{ Params: { id: string } }>('/v1/platform/tenants/:id/api-keys', {
    config,
    schema: {
      summary: "List a tenant's API keys (never their secrets)",
      tags: TAGS,
      params: TENANT_ID_PARAMS,
      response: {
        200: {
          type: 'object',
          required: ['items'],
          properties: { items: { type: 'array', items: API_KEY } },
        },
      },
    },
    handler: async (request) => ({ items: await admin.listApiKeys(request.params.id) }),
  });

  app.delete<{ Params: { id: string; keyId: string } }>(
    '/v1/platform/tenants/:id/api-keys/:keyId',
    {
      config,
      schema: {
        summary: 'Revoke a tenant API key',
        tags: TAGS,
        params: {
          type: 'object',
          required: ['id', 'keyId'],
          properties: {
            id: UUID,
            keyId: UUID,
          },
        },
        response: { 204: NO_BODY },
      },
      handler: async (request, reply) => {
        await admin.revokeApiKey(request.params.id, request.params.keyId);
        return reply.code(204).send();
      },
    },
  );
}
