import type { FastifyInstance, FastifySchema } from 'fastify';
import type { RouteAuth } from './auth-hook.ts';

declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
    tags?: string[];
    hide?: boolean;
  }
}

interface RouteDoc {
  readonly method: string;
  readonly url: string;
  readonly auth: RouteAuth;
  readonly schema: FastifySchema;
}

/** The OpenAPI security requirement of a route: none, an edge node's credential, or a bearer. */
function securityOf(auth: RouteAuth): Record<string, never[]>[] {
  if (auth === 'public') return [];
  return auth === 'edge-node' ? [{ edgeNode: [] }] : [{ bearer: [] }];
}

function toOpenApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{path}');
}

function parameters(location: 'path' | 'query', schema: unknown): unknown[] {
  const object = schema as
    | {
        properties?: Record<string, unknown>;
        required?: string[];
        patternProperties?: Record<string, unknown>;
      }
    | undefined;
  const list: unknown[] = Object.entries(object?.properties ?? {}).map(([name, s]) => ({
    name,
    in: location,
    required: location === 'path' || (object?.required ?? []).includes(name),
    schema: s,
  }));
  for (const [pattern, s] of Object.entries(object?.patternProperties ?? {})) {
    list.push({
      name: pattern,
      in: location,
      description: `any parameter matching ${pattern}`,
      schema: s,
    });
  }
  return list;
}

/**
 * Builds the OpenAPI 3.1 document from the very schemas Fastify validates requests with,
 * collected as routes register, so the document cannot drift from the server.
 */
export function installOpenApi(
  app: FastifyInstance,
  info: { title: string; version: string },
): () => unknown {
  const routes: RouteDoc[] = [];
  app.addHook('onRoute', (route) => {
    if (route.method === 'HEAD' || route.schema?.hide === true) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      routes.push({
        method: method.toLowerCase(),
        url: route.url,
        auth: route.config?.auth ?? 'public',
        schema: route.schema ?? {},
      });
    }
  });
  return () => {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const route of routes) {
      const path = toOpenApiPath(route.url);
      const responses: Record<string, unknown> = {};
      for (const [status, schema] of Object.entries(
        (route.schema.response ?? {}) as Record<string, unknown>,
      )) {
        responses[status] = {
          description: `HTTP ${status}`,
          content: { 'application/json': { schema } },
        };
      }
      responses.default = {
        description: 'A problem (RFC 9457)',
        content: {
          'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
        },
      };
      paths[path] ??= {};
      paths[path][route.method] = {
        summary: route.schema.summary,
        tags: route.schema.tags,
        security: securityOf(route.auth),
        'x-palisade-auth': route.auth,
        parameters: [
          ...parameters('path', route.schema.params),
          ...parameters('query', route.schema.querystring),
        ],
        ...(route.schema.body === undefined
          ? {}
          : {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: route.schema.body } },
              },
            }),
        responses,
      };
    }
    return {
      openapi: '3.1.0',
      info,
      paths,
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'the platform-admin token, a tenant API key or a tenant access token',
          },
          edgeNode: {
            type: 'http',
            scheme: 'bearer',
            description: "an edge node's credential, from its enrollment (palisade-edge enroll)",
          },
        },
        schemas: {
          Problem: {
            type: 'object',
            required: ['type', 'title', 'status', 'code', 'detail'],
            properties: {
              type: { type: 'string' },
              title: { type: 'string' },
              status: { type: 'integer' },
              code: { type: 'string' },
              detail: { type: 'string' },
              errors: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { path: { type: 'string' }, message: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    };
  };
}
