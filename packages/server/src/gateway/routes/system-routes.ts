import { HYBRID_GROUP } from '@palisade/crypto';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { mediaResponse } from '../schemas.ts';
import { negotiatedGroup } from '../tls-listener.ts';

export interface SystemProbes {
  /** Throws when a store cannot be reached. */
  ready(): Promise<void>;
  openApi(): unknown;
}

/** Health, readiness, metrics and the OpenAPI document: all public, none tenant-specific. */
export function systemRoutes(app: FastifyInstance, probes: SystemProbes, metrics: Registry): void {
  const config = { auth: 'public' as const };
  const tags = ['system'];

  app.get(
    '/healthz',
    {
      config,
      schema: {
        summary: 'Liveness; over HTTPS, the key exchange of this connection',
        tags,
        response: {
          200: {
            type: 'object',
            required: ['status'],
            properties: {
              status: { const: 'ok' },
              tls: {
                type: 'object',
                required: ['protocol', 'group', 'postQuantum'],
                properties: {
                  protocol: { type: ['string', 'null'] },
                  group: { type: ['string', 'null'] },
                  postQuantum: { type: 'boolean' },
                },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const socket = request.raw.socket as typeof request.raw.socket & { encrypted?: boolean };
      if (socket.encrypted !== true) return { status: 'ok' };
      const group = negotiatedGroup(socket) ?? null;
      const protocol = (socket as unknown as { getProtocol(): string | null }).getProtocol();
      return { status: 'ok', tls: { protocol, group, postQuantum: group === HYBRID_GROUP } };
    },
  );

  app.get(
    '/readyz',
    {
      config,
      schema: {
        summary: 'Readiness: stores reachable (503 while shutting down)',
        tags,
        response: {
          200: { type: 'object', required: ['status'], properties: { status: { const: 'ready' } } },
          503: {
            type: 'object',
            required: ['status'],
            properties: { status: { const: 'unavailable' } },
          },
        },
      },
    },
    async (_request, reply) => {
      try {
        await probes.ready();
        return { status: 'ready' };
      } catch {
        return reply.code(503).send({ status: 'unavailable' });
      }
    },
  );

  app.get(
    '/metrics',
    {
      config,
      schema: {
        summary: 'Prometheus metrics',
        tags,
        response: {
          200: mediaResponse(metrics.contentType, 'the Prometheus text exposition format', {
            type: 'string',
          }),
        },
      },
    },
    async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()),
  );

  app.get(
    '/v1/openapi.json',
    {
      config,
      schema: {
        summary: 'This API as OpenAPI 3.1',
        tags,
        response: {
          200: { description: 'this document', type: 'object', additionalProperties: true },
        },
      },
    },
    async () => probes.openApi(),
  );
}
