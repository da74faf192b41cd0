import type { FastifyInstance } from 'fastify';
import { cedarSchemaText, type PolicyService, TENANT_ISOLATION_POLICY } from '../../authz/index.ts';
import { tenantOf } from '../auth-hook.ts';
import { NO_BODY } from '../schemas.ts';

const TAGS = ['policies'];
const POLICY_SET = {
  type: 'object',
  required: ['policies', 'version', 'updatedAt'],
  properties: {
    policies: { type: 'string', description: 'the Cedar policy set as the tenant wrote it' },
    version: { type: 'integer' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
} as const;

/**
 * `/v1/policies…`: a tenant's Cedar policy set, which narrows what its roles grant. See the
 * README's Authorization section for how it is evaluated.
 */
export function policyRoutes(
  app: FastifyInstance,
  policies: PolicyService,
  policySetMaxChars: number,
): void {
  const schemaText = cedarSchemaText();

  app.get('/v1/policies', {
    config: { auth: 'policies:read' },
    schema: {
      summary: "Show the tenant's Cedar policy set",
      tags: TAGS,
      response: { 200: POLICY_SET },
    },
    handler: async (request) => {
      const row = await policies.get(tenantOf(request));
      return { policies: row.text, version: row.version, updatedAt: row.updatedAt };
    },
  });

  app.put<{ Body: { policies: string } }>('/v1/policies', {
    config: { auth: 'policies:write' },
    schema: {
      summary: 'Replace the tenant’s Cedar policy set (validated against GET /v1/policies/schema)',
      tags: TAGS,
      body: {
        type: 'object',
        required: ['policies'],
        additionalProperties: false,
        properties: { policies: { type: 'string', minLength: 1, maxLength: policySetMaxChars } },
      },
      response: { 200: POLICY_SET },
    },
    handler: async (request) => {
      const row = await policies.put(tenantOf(request), request.body.policies);
      return { policies: row.text, version: row.version, updatedAt: row.updatedAt };
    },
  });

  app.delete('/v1/policies', {
    config: { auth: 'policies:write' },
    schema: {
      summary: 'Remove the policy set: roles alone decide again',
      tags: TAGS,
      response: { 204: NO_BODY },
    },
    handler: async (request, reply) => {
      await policies.delete(tenantOf(request));
      return reply.code(204).send();
    },
  });

  app.get('/v1/policies/schema', {
    config: { auth: 'policies:read' },
    schema: {
      summary: 'The Cedar schema policies are validated against',
      tags: TAGS,
      response: {
        200: {
          type: 'object',
          required: ['schema', 'isolation'],
          properties: {
            schema: { type: 'string', description: 'Cedar schema text' },
            isolation: {
              type: 'string',
              description: 'the platform policy added to every set, which no policy overrides',
            },
          },
        },
      },
    },
    handler: () => ({ schema: schemaText, isolation: TENANT_ISOLATION_POLICY }),
  });
}
