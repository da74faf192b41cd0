/**
 * `npm run bench -- gateway [--duration S] [--connections N] [--probe-rate R]`: what the
 * gateway costs, and whether one tenant's flood slows another.
 *
 * 1. Authenticated requests per second against a bare Fastify route: GET /v1/usage (no
 *    storage; authentication, rate limiting, security headers and schema serialization) with
 *    an API key, and with a JWT access token from the tenant's OAuth issuer (client
 *    credentials) when this build has one. Goal: ratio ≥ 0.5.
 * 2. Tenant B's latency while tenant A floods: B sends GET /v1/collections at a fixed rate
 *    (bench/_gateway-probe.ts, open loop) alone, then while A floods the same route with
 *    autocannon over many connections. A is on a plan with a request limit, B is not near
 *    its own. Goal: B's p99 rises by less than 25%. The same is measured on a server without
 *    request limits, to show what the limits buy. Beside each condition it prints the CPU time
 *    the host took from this VM during that condition's slices (`steal`, Linux): a tail the
 *    server did not cause. The verdict does not use it.
 *
 * Every client and server is its own process (SQLite in a temporary folder, `--log-level
 * warn`); on a machine with few cores they still share CPUs, which the figures include.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ProbePhase, ProbeRun } from './_gateway-probe.ts';
import { type Child, call, load, type Options, startBare, startPalisade } from './_processes.ts';
import type { LoadFigures, LoadPhase } from './_records-load.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const ADMIN_TOKEN = `pa_bench_${randomBytes(24).toString('base64url')}`;
/**
 * Measured seconds per throughput phase; each condition (alone, flooded) of a fairness run is
 * measured for twice as long, since its figure is a p99 (3,200 requests by default: the 32nd
 * slowest).
 */
const DURATION_SECONDS = 8;
/**
 * Each fairness condition is measured in this many slices, alone and flooded alternating, so
 * drift in the machine's load (other processes) and its bursts of noise fall on both alike.
 */
const ROUNDS = 8;
/** Concurrent connections of the throughput phases and of tenant A's flood. */
const CONNECTIONS = 64;
/** Tenant B's steady request rate during the fairness phases. */
const PROBE_RATE = 200;
/** Keep-alive connections tenant B's client spreads its requests over. */
const PROBE_SOCKETS = 8;
/** Seconds of B's requests before its first measured slice, and of A's flood before a slice. */
const PROBE_WARMUP_SECONDS = 3;
const FLOOD_LEAD_SECONDS = 1;
/** Tenant A's plan: 500 requests a second, a one-second burst. Every other plan: far more. */
const LIMIT_FLAGS = [
  '--quota-tenant-requests-per-second',
  'flood=500',
  '--quota-tenant-requests-per-second',
  '*=1000000',
  '--quota-burst-seconds',
  '1',
];

interface Tenant {
  readonly slug: string;
  readonly key: string;
}

/** Runs a bench script in its own process and parses the JSON line it prints. */
function runChild<T>(script: string, phase: unknown): Promise<T> {
  const child = spawn(process.execPath, [script, JSON.stringify(phase)], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(stdout) as T);
      else reject(new Error(`${script} exited ${code}: ${stderr}`));
    });
  });
}

/**
 * CPU time the hypervisor has taken from this machine's CPUs since boot (`steal` in
 * /proc/stat, in USER_HZ ticks of 10 ms), or undefined where the kernel does not say. A slice
 * during which the host took CPU has a tail the server did not cause, so the report shows it
 * beside each condition; the verdict does not use it.
 */
function stolenMs(): number | undefined {
  try {
    const ticks = Number(readFileSync('/proc/stat', 'utf8').split(/\s+/, 9)[8]);
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

/** One slice of B's requests, and the CPU time the host stole meanwhile. */
interface Slice {
  readonly run: ProbeRun;
  readonly stolenMs: number | undefined;
}

/** Tenant B's probe (bench/_gateway-probe.ts): one warmed-up process for every slice of a run. */
async function startProbe(phase: ProbePhase) {
  const child = spawn(process.execPath, ['bench/_gateway-probe.ts', JSON.stringify(phase)], {
    cwd: REPO,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const line = await lines.next();
    if (line.done) throw new Error('bench/_gateway-probe.ts exited early');
    return JSON.parse(line.value) as unknown;
  };
  await next();
  return {
    slice: async (): Promise<Slice> => {
      const before = stolenMs();
      child.stdin.write('\n');
      const run = (await next()) as ProbeRun;
      const after = stolenMs();
      return {
        run,
        stolenMs: before === undefined || after === undefined ? undefined : after - before,
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

async function tenant(url: string, slug: string, plan: string): Promise<Tenant> {
  const created = await call<{ id: string }>(url, 'POST', '/v1/platform/tenants', ADMIN_TOKEN, {
    slug,
    name: slug,
    plan,
  });
  const { secret } = await call<{ secret: string }>(
    url,
    'POST',
    `/v1/platform/tenants/${created.id}/api-keys`,
    ADMIN_TOKEN,
    { name: 'bench' },
  );
  await call(url, 'PUT', '/v1/collections/items', secret, { schema: { type: 'object' } });
  return { slug, key: secret };
}

/**
 * A JWT access token for a service client of the tenant, by the client credentials grant at
 * the tenant's issuer; undefined when this build has no OAuth issuer.
 */
async function accessToken(url: string, owner: Tenant): Promise<string | undefined> {
  const created = await fetch(`${url}/v1/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${owner.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', kind: 'service', roles: ['owner'] }),
  });
  if (created.status === 404) return undefined;
  if (!created.ok) throw new Error(`POST /v1/clients: ${created.status} ${await created.text()}`);
  const client = (await created.json()) as { id: string; secret: string };
  const basic = Buffer.from(
    `${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`,
  ).toString('base64');
  const response = await fetch(`${url}/t/${owner.slug}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  if (!response.ok) throw new Error(`token: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** A's flood starts a second before B's slice and outlasts it by a second. */
function floodSeconds(slice: number): number {
  return FLOOD_LEAD_SECONDS + slice + 1;
}

/** B's latencies (ms percentiles over every slice) in one condition. */
interface ProbeFigures {
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly failed: number;
  /** CPU time the host stole during this condition's slices (undefined: not reported). */
  readonly stolenMs: number | undefined;
}

interface Fairness {
  readonly alone: ProbeFigures;
  readonly flooded: ProbeFigures;
  /** A's answered and refused requests per second while flooding. */
  readonly floodAnswered: number;
  readonly floodRefused: number;
}

function figures(slices: Slice[]): ProbeFigures {
  const runs = slices.map((s) => s.run);
  const sorted = runs.flatMap((r) => r.micros).sort((x, y) => x - y);
  const at = (p: number) =>
    (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) / 1000;
  return {
    p50Ms: at(50),
    p90Ms: at(90),
    p99Ms: at(99),
    failed: runs.reduce((sum, r) => sum + r.failed, 0),
    stolenMs: slices.every((s) => s.stolenMs !== undefined)
      ? slices.reduce((sum, s) => sum + s.stolenMs!, 0)
      : undefined,
  };
}

/** B's latency alone and while A floods, in alternating slices. */
async function fairness(options: Options, rate: number, url: string, a: Tenant, b: Tenant) {
  const slice = (2 * options.durationSeconds) / ROUNDS;
  const probe = await startProbe({
    url,
    path: '/v1/collections',
    token: b.key,
    requestsPerSecond: rate,
    sockets: PROBE_SOCKETS,
    warmupSeconds: PROBE_WARMUP_SECONDS,
    sliceSeconds: slice,
  });
  const flood: LoadPhase = {
    url,
    method: 'GET',
    paths: ['/v1/collections'],
    headers: { authorization: `Bearer ${a.key}` },
    connections: options.connections,
    warmupSeconds: 0,
    durationSeconds: floodSeconds(slice),
  };
  const alone: Slice[] = [];
  const flooded: Slice[] = [];
  let answered = 0;
  let refused = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      alone.push(await probe.slice());
      const flooding = runChild<LoadFigures>('bench/_records-load.ts', flood);
      await new Promise((resolve) => setTimeout(resolve, FLOOD_LEAD_SECONDS * 1000));
      flooded.push(await probe.slice());
      const load = await flooding;
      answered += load.ok;
      refused += load.failed;
    }
  } finally {
    await probe.close();
  }
  const seconds = ROUNDS * floodSeconds(slice);
  return {
    alone: figures(alone),
    flooded: figures(flooded),
    floodAnswered: answered / seconds,
    floodRefused: refused / seconds,
  } satisfies Fairness;
}

async function withPalisade<T>(flags: string[], body: (server: Child) => Promise<T>): Promise<T> {
  const data = mkdtempSync(join(tmpdir(), 'palisade-bench-'));
  const server = await startPalisade(ADMIN_TOKEN, ['--data', data, ...flags]);
  try {
    return await body(server);
  } finally {
    await server.stop();
    rmSync(data, { recursive: true, force: true });
  }
}

const ms = (n: number) => n.toFixed(2).padStart(9);
const rps = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10);

function ratio(label: string, value: number, goal: string, met: boolean): void {
  const verdict = met ? 'meets' : 'MISSES';
  console.log(`  ${label.padEnd(46)}${value.toFixed(2).padStart(8)}   ${verdict} goal ${goal}`);
}

function fairnessRows(name: string, f: Fairness): void {
  const row = (label: string, p: ProbeFigures) =>
    console.log(
      `  ${label.padEnd(46)}${ms(p.p50Ms)}${ms(p.p90Ms)}${ms(p.p99Ms)}${String(p.failed).padStart(8)}${String(p.stolenMs ?? '-').padStart(10)}`,
    );
  row(`B alone, ${name}`, f.alone);
  row(`B while A floods, ${name}`, f.flooded);
  console.log(
    `    A's flood: ${rps(f.floodAnswered)} answered/s, ${rps(f.floodRefused)} refused/s`,
  );
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: 'string', default: String(DURATION_SECONDS) },
      connections: { type: 'string', default: String(CONNECTIONS) },
      'probe-rate': { type: 'string', default: String(PROBE_RATE) },
    },
  });
  const options: Options = {
    durationSeconds: Number(values.duration),
    connections: Number(values.connections),
  };
  const rate = Number(values['probe-rate']);
  console.log(
    `gateway over HTTP: ${options.connections} connections, ${options.durationSeconds} s per ` +
      `throughput phase, ${2 * options.durationSeconds} s per fairness condition in ${ROUNDS} ` +
      `slices, tenant B at ${rate} req/s, ${availableParallelism()} CPUs, Node ${process.versions.node}`,
  );
  const bare = await startBare();
  let bareGet: LoadFigures;
  let apiKey: LoadFigures;
  let jwt: LoadFigures | undefined;
  let limited: Fairness;
  let unlimited: Fairness;
  try {
    bareGet = await load(options, { url: bare.url, method: 'GET', paths: ['/bare'], headers: {} });
    ({ apiKey, jwt, limited } = await withPalisade(LIMIT_FLAGS, async (server) => {
      const a = await tenant(server.url, 'bench-a', 'flood');
      const b = await tenant(server.url, 'bench-b', 'free');
      const usage = (token: string) =>
        load(options, {
          url: server.url,
          method: 'GET',
          paths: ['/v1/usage'],
          headers: { authorization: `Bearer ${token}` },
        });
      const keyFigures = await usage(b.key);
      const token = await accessToken(server.url, b);
      const jwtFigures = token === undefined ? undefined : await usage(token);
      return {
        apiKey: keyFigures,
        jwt: jwtFigures,
        limited: await fairness(options, rate, server.url, a, b),
      };
    }));
    unlimited = await withPalisade([], async (server) =>
      fairness(
        options,
        rate,
        server.url,
        await tenant(server.url, 'bench-a', 'flood'),
        await tenant(server.url, 'bench-b', 'free'),
      ),
    );
  } finally {
    await bare.stop();
  }

  console.log(`\n  ${'throughput'.padEnd(46)}${'req/s'.padStart(10)}${'p99 ms'.padStart(9)}`);
  const throughput = (label: string, f: LoadFigures) =>
    console.log(`  ${label.padEnd(46)}${rps(f.requestsPerSecond)}${ms(f.p99Ms)}`);
  throughput('bare Fastify GET (small JSON)', bareGet);
  throughput('Palisade GET /v1/usage, API key', apiKey);
  if (jwt === undefined) console.log('  (no OAuth issuer in this build: JWT phase skipped)');
  else throughput('Palisade GET /v1/usage, JWT access token', jwt);

  console.log(
    `\n  ${'tenant B, GET /v1/collections'.padEnd(46)}${'p50 ms'.padStart(9)}${'p90 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'failed'.padStart(8)}${'steal ms'.padStart(10)}`,
  );
  fairnessRows('A limited to 500/s', limited);
  fairnessRows('no request limits', unlimited);

  console.log('');
  const keyRatio = apiKey.requestsPerSecond / bareGet.requestsPerSecond;
  ratio('API key req/s / bare GET', keyRatio, '≥ 0.5', keyRatio >= 0.5);
  if (jwt !== undefined) {
    const jwtRatio = jwt.requestsPerSecond / bareGet.requestsPerSecond;
    ratio('JWT req/s / bare GET', jwtRatio, '≥ 0.5', jwtRatio >= 0.5);
  }
  const rise = (f: Fairness) => f.flooded.p99Ms / f.alone.p99Ms;
  ratio("B's p99 flooded / alone, A limited", rise(limited), '< 1.25', rise(limited) < 1.25);
  // The control: no goal, it shows what the request limits keep from B.
  console.log(
    `  ${"B's p99 flooded / alone, no limits".padEnd(46)}${rise(unlimited).toFixed(2).padStart(8)}   control: what the limits prevent`,
  );
}
