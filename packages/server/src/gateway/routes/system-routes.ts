import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface SystemProbes {
  /** Throws when a store cannot be reached. */
  ready(): Promise<void>;
  openApi(): unknown;
}

/** Health, readiness, metrics and the OpenAPI document: all public, none tenant-specific. */
export function systemRoutes(app: FastifyInstance, probes: SystemProbes, metrics: Registry): void {
  const config = { auth: 'public' as const };
  const tags = ['system'];

  app.get('/healthz', { config, schema: { summary: 'Liveness', tags } }, async () => ({
    status: 'ok',
  }));

  app.get(
    '/readyz',
    { config, schema: { summary: 'Readiness: stores reachable (503 while shutting down)', tags } },
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
    { config, schema: { summary: 'Prometheus metrics', tags } },
    async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()),
  );

  app.get(
    '/v1/openapi.json',
    { config, schema: { summary: 'This API as OpenAPI 3.1', tags } },
    async () => probes.openApi(),
  );
}
