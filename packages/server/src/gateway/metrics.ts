import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, type Metric, Registry } from 'prom-client';

const DURATION_NAME = 'palisade_http_request_duration_seconds';
/** Upper bounds of the request latency buckets, in seconds. */
export const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/** One label set of the request histogram: counts per bucket (not cumulative), sum, count. */
interface Series {
  readonly labels: {
    readonly method: string;
    readonly route: string;
    readonly status_code: string;
  };
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * The request latency histogram, kept in plain arrays: a request costs a map lookup by a
 * string key and two additions, where prom-client's Histogram validated and hashed its
 * labels on every observation. prom-client still renders it, in its histogram format.
 */
export class RequestDurations {
  readonly name = DURATION_NAME;
  readonly help = 'HTTP request latency from arrival to response; its _count is the request count';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, Series>();

  observe(method: string, route: string, statusCode: number, seconds: number): void {
    const key = `${method} ${statusCode} ${route}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = {
        labels: { method, route, status_code: String(statusCode) },
        counts: new Float64Array(DURATION_BUCKETS.length + 1),
        sum: 0,
        count: 0,
      };
      this.#series.set(key, series);
    }
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket++;
    series.counts[bucket]! += 1;
    series.sum += seconds;
    series.count += 1;
  }

  /** prom-client's metric interface: the values of every series, buckets cumulative. */
  get() {
    const values = [];
    for (const series of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i <= DURATION_BUCKETS.length; i++) {
        cumulative += series.counts[i]!;
        values.push({
          metricName: `${DURATION_NAME}_bucket`,
          labels: {
            le: i < DURATION_BUCKETS.length ? DURATION_BUCKETS[i]! : '+Inf',
            ...series.labels,
          },
          value: cumulative,
        });
      }
      values.push({ metricName: `${DURATION_NAME}_sum`, labels: series.labels, value: series.sum });
      values.push({
        metricName: `${DURATION_NAME}_count`,
        labels: series.labels,
        value: series.count,
      });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  reset(): void {
    this.#series.clear();
  }
}

/**
 * Prometheus metrics of one server. Requests are labelled by route pattern, never by URL or
 * tenant id, so cardinality stays bounded and one tenant's activity is not exposed by name.
 */
export function installMetrics(app: FastifyInstance, registry = new Registry()): Registry {
  collectDefaultMetrics({ register: registry, prefix: 'palisade_' });
  const durations = new RequestDurations();
  // prom-client's Metric is a class; the registry only calls name, get() and reset().
  registry.registerMetric(durations as unknown as Metric);
  // A callback hook, not an async one: no promise per request on this hot path.
  app.addHook('onResponse', (request, reply, done) => {
    durations.observe(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
  return registry;
}
