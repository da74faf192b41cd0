/**
 * The load generator of bench/records.ts, run in its own process so it never shares an event
 * loop with the server under test. Reads one phase as JSON from argv[2], runs autocannon
 * (a warm-up, then the measured run) and prints the figures as one JSON line on stdout.
 */
import { createRequire } from 'node:module';

/** One benchmark phase: every connection cycles through `paths` in order. */
export interface LoadPhase {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly paths: readonly string[];
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
}

/** What the phase measured: mean requests per second and latency percentiles in ms. */
export interface LoadFigures {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ok: number;
  readonly failed: number;
}

interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

// autocannon ships no types; this is the slice of its API used here.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

async function measure(phase: LoadPhase, seconds: number): Promise<AutocannonResult> {
  return autocannon({
    url: phase.url,
    connections: phase.connections,
    duration: seconds,
    headers: phase.headers,
    requests: phase.paths.map((path) => ({ method: phase.method, path, body: phase.body })),
  });
}

const phase = JSON.parse(process.argv[2] ?? '') as LoadPhase;
if (phase.warmupSeconds > 0) await measure(phase, phase.warmupSeconds);
const result = await measure(phase, phase.durationSeconds);
const figures: LoadFigures = {
  requestsPerSecond: result.requests.average,
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
  ok: result['2xx'],
  failed: result.non2xx + result.errors + result.timeouts,
};
process.stdout.write(`${JSON.stringify(figures)}\n`);
