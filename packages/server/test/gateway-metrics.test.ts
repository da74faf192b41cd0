import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, type Metric, Registry } from 'prom-client';
import { DURATION_BUCKETS, RequestDurations } from '../src/gateway/metrics.ts';

/** The request histogram renders exactly as prom-client's own Histogram would. */
test('request durations expose the same text as a prom-client Histogram', async () => {
  const ours = new Registry();
  const durations = new RequestDurations();
  ours.registerMetric(durations as unknown as Metric);
  const theirs = new Registry();
  const reference = new Histogram({
    name: durations.name,
    help: durations.help,
    labelNames: ['method', 'route', 'status_code'],
    buckets: DURATION_BUCKETS,
    registers: [theirs],
  });
  const observations: [string, string, number, number][] = [
    ['GET', '/v1/collections/:name/records/:id', 200, 0.0004],
    ['GET', '/v1/collections/:name/records/:id', 200, 0.0005],
    ['GET', '/v1/collections/:name/records/:id', 200, 0.003],
    ['GET', '/v1/collections/:name/records/:id', 404, 0.7],
    ['POST', '/v1/collections/:name/records', 201, 9],
    ['GET', 'unmatched', 404, 0.00001],
  ];
  for (const [method, route, status, seconds] of observations) {
    durations.observe(method, route, status, seconds);
    reference.observe({ method, route, status_code: String(status) }, seconds);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  durations.reset();
  reference.reset();
  assert.equal(await ours.metrics(), await theirs.metrics());
});
