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
  /** The request media types the route's scope parses. */
  readonly consumes: readonly string[];
}

/** The OpenAPI security requirement of a route: none, an edge node's credential, or a bearer. */
function securityOf(auth: RouteAuth): Record<string, never[]>[] {
  if (auth === 'public') return [];
  return auth === 'edge-node' ? [{ edgeNode: [] }] : [{ bearer: [] }];
}

/** The name a wildcard (`*`) path parameter has in the document. */
const WILDCARD = 'path';

/**
 * Media types the gateway parses request bodies as; a route's `requestBody` lists those its
 * scope has a parser for, each with the route's one body schema.
 */
const BODY_TYPES = [
  'application/json',
  'application/merge-patch+json',
  'application/x-www-form-urlencoded',
] as const;

function toOpenApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, `{${WILDCARD}}`);
}

interface ObjectSchema {
  properties?: Record<string, unknown>;
  required?: string[];
  patternProperties?: Record<string, unknown>;
}

function parameters(
  location: 'path' | 'query' | 'header',
  schema: unknown,
  url: string,
): unknown[] {
  const object = schema as ObjectSchema | undefined;
  const properties = { ...object?.properties };
  if (location === 'path' && url.endsWith('*')) properties['*'] ??= { type: 'string' };
  const list: unknown[] = Object.entries(properties).map(([name, s]) => ({
    name: location === 'path' && name === '*' ? WILDCARD : name,
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
 * A response as documented: Fastify's per-media-type form (`{ content: { type: { schema } } }`)
 * as it is, a `null` schema (a 204 or 304) without content, any other schema as JSON.
 */
function response(status: string, schema: unknown): unknown {
  const declared = schema as { description?: string; type?: unknown; content?: unknown };
  const description = declared.description ?? `HTTP ${status}`;
  if (declared.content !== undefined) return { description, content: declared.content };
  if (declared.type === 'null') return { description };
  return { description, content: { 'application/json': { schema } } };
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
  app.addHook('onRoute', function collect(route) {
    if (route.method === 'HEAD' || route.schema?.hide === true) return;
    // `this` is the scope the route is registered in, with that scope's body parsers.
    const consumes = BODY_TYPES.filter((type) => this.hasContentTypeParser(type));
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      routes.push({
        method: method.toLowerCase(),
        url: route.url,
        auth: route.config?.auth ?? 'public',
        schema: route.schema ?? {},
        consumes,
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
        responses[status] = response(status, schema);
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
          ...parameters('path', route.schema.params, route.url),
          ...parameters('query', route.schema.querystring, route.url),
          ...parameters('header', route.schema.headers, route.url),
        ],
        ...(route.schema.body === undefined
          ? {}
          : {
              requestBody: {
                required: true,
                content: Object.fromEntries(
                  route.consumes.map((type) => [type, { schema: route.schema.body }]),
                ),
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
