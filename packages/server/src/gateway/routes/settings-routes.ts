import type { FastifyInstance } from 'fastify';
import type { CorsSettings } from '../../cors/index.ts';
import { tenantOf } from '../auth-hook.ts';

const TAGS = ['settings'];
const ORIGINS = {
  type: 'object',
  required: ['origins'],
  additionalProperties: false,
  properties: {
    origins: {
      type: 'array',
      description:
        "Browser origins allowed to call the API with this tenant's credentials, each written as browsers send it: https://host[:port] (http only on localhost), lower-case host, no path, no trailing slash, no default port. Empty allows no cross-origin caller.",
      items: { type: 'string', minLength: 1, maxLength: 300 },
    },
  },
} as const;

/** `/v1/settings/cors`: the tenant's CORS allow-list. */
export function settingsRoutes(app: FastifyInstance, cors: CorsSettings): void {
  app.get('/v1/settings/cors', {
    config: { auth: 'settings:read' },
    schema: {
      summary: "The tenant's CORS allow-list",
      tags: TAGS,
      response: { 200: ORIGINS },
    },
    handler: async (request) => ({ origins: await cors.origins(tenantOf(request)) }),
  });

  app.put<{ Body: { origins: string[] } }>('/v1/settings/cors', {
    config: { auth: 'settings:write' },
    schema: {
      summary: "Replace the tenant's CORS allow-list (a ledger entry)",
      tags: TAGS,
      body: ORIGINS,
      response: { 200: ORIGINS },
    },
    handler: async (request) => ({
      origins: await cors.replace(tenantOf(request), request.body.origins),
    }),
  });
}
