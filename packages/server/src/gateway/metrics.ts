import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one server. Requests are labelled by route pattern, never by URL or
 * tenant id, so cardinality stays bounded and one tenant's activity is not exposed by name.
 */
export function installMetrics(app: FastifyInstance, registry = new Registry()): Registry {
  collectDefaultMetrics({ register: registry, prefix: 'palisade_' });
  const duration = new Histogram({
    name: 'palisade_http_request_duration_seconds',
    help: 'HTTP request latency from arrival to response; its _count is the request count',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // One child per label set, looked up by a plain string: label hashing on every request was
  // a measurable share of a cached read.
  const children = new Map<string, ReturnType<typeof duration.labels>>();
  // A callback hook, not an async one: no promise per request on this hot path.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${reply.statusCode} ${route}`;
    let child = children.get(key);
    if (child === undefined) {
      child = duration.labels({
        method: request.method,
        route,
        status_code: String(reply.statusCode),
      });
      children.set(key, child);
    }
    child.observe(reply.elapsedTime / 1000);
    done();
  });
  return registry;
}
