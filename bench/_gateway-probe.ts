/**
 * The latency probe of bench/gateway.ts: tenant B's client, in its own process. It sends GETs
 * at a fixed rate (open loop: a request leaves on schedule whether or not earlier ones have
 * answered, so a slow server cannot hide its queue by slowing the client), over keep-alive
 * connections, and times each from its send to the end of its response, in microseconds.
 *
 * One process serves every slice of a fairness run, so each slice is measured by a client
 * whose code is already compiled: a fresh process per slice put its own warm-up stalls (a few
 * milliseconds, a second or two in) into every slice, at the p99. Reads its phase as JSON from
 * argv[2], warms up, prints `{"ready":true}`; then for each line on stdin sends one slice and
 * prints its timings as one JSON line; exits when stdin ends.
 */
import http from 'node:http';
import { createInterface } from 'node:readline';

export interface ProbePhase {
  readonly url: string;
  readonly path: string;
  readonly token: string;
  readonly requestsPerSecond: number;
  readonly sockets: number;
  readonly warmupSeconds: number;
  readonly sliceSeconds: number;
}

/** What one slice saw: the latency of each answered request, and how many failed. */
export interface ProbeRun {
  readonly micros: number[];
  readonly failed: number;
}

const phase = JSON.parse(process.argv[2] ?? '') as ProbePhase;
const agent = new http.Agent({ keepAlive: true, maxSockets: phase.sockets });
const target = new URL(phase.path, phase.url);

function once(): Promise<{ ok: boolean; micros: number }> {
  const start = performance.now();
  return new Promise((resolve) => {
    const request = http.get(
      target,
      { agent, headers: { authorization: `Bearer ${phase.token}` } },
      (response) => {
        response.resume();
        response.on('end', () =>
          resolve({
            ok: response.statusCode === 200,
            micros: Math.round((performance.now() - start) * 1000),
          }),
        );
      },
    );
    request.on('error', () => resolve({ ok: false, micros: 0 }));
  });
}

/** Sends for `seconds` at the phase's rate; resolves with every timing once all answered. */
async function run(seconds: number): Promise<ProbeRun> {
  const total = Math.round(seconds * phase.requestsPerSecond);
  const intervalMs = 1000 / phase.requestsPerSecond;
  const startedAt = performance.now();
  const pending: Promise<{ ok: boolean; micros: number }>[] = [];
  for (let i = 0; i < total; i++) {
    const due = startedAt + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(once());
  }
  const results = await Promise.all(pending);
  return {
    micros: results.filter((r) => r.ok).map((r) => r.micros),
    failed: results.filter((r) => !r.ok).length,
  };
}

await run(phase.warmupSeconds);
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
for await (const _ of createInterface({ input: process.stdin })) {
  process.stdout.write(`${JSON.stringify(await run(phase.sliceSeconds))}\n`);
}
agent.destroy();
