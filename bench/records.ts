/**
 * `npm run bench -- records [--postgres URL] [--duration S] [--connections N]`: authenticated
 * record reads and creates over HTTP, against a bare Fastify route as the peer.
 *
 * Three kinds of process, so none shares an event loop with another: the Palisade server
 * (`palisade start` on SQLite in a temporary folder, and on PostgreSQL when `--postgres` names
 * an admin URL), a bare Fastify server (bench/_bare-route.ts), and autocannon
 * (bench/_records-load.ts), started afresh for each phase. Each phase warms up, then measures;
 * Palisade reads rotate over pre-created records. Servers run with `--log-level warn`, so
 * neither side writes a log line per request. The ratios are Palisade over bare Fastify on
 * the same machine in the same run; the goals are read ≥ 0.5 and create ≥ 0.3.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { LoadFigures, LoadPhase } from './_records-load.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** Measured seconds per phase, after WARMUP_SECONDS not counted. */
const DURATION_SECONDS = 8;
const WARMUP_SECONDS = 2;
/** Concurrent connections of the load generator. */
const CONNECTIONS = 64;
/** Records created before the read phase; reads cycle through them. */
const READ_SET = 1000;
/** Concurrency of the setup requests. */
const SETUP_CONCURRENCY = 32;
/** How long a server may take to answer /readyz. */
const START_TIMEOUT_MS = 30_000;

const ADMIN_TOKEN = `pa_bench_${randomBytes(24).toString('base64url')}`;
const SCHEMA = {
  type: 'object',
  required: ['title'],
  additionalProperties: false,
  properties: {
    title: { type: 'string', maxLength: 200 },
    count: { type: 'integer', minimum: 0 },
    done: { type: 'boolean' },
    tags: { type: 'array', items: { type: 'string' } },
  },
};
const BODY = JSON.stringify({ title: 'bench', count: 1, done: false, tags: ['a', 'b'] });

interface Child {
  readonly url: string;
  stop(): Promise<void>;
}

function launch(args: string[]): { child: ChildProcess; stderr: () => string } {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('PALISADE_')) delete env[key];
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return { child, stderr: () => stderr };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

async function startBare(): Promise<Child> {
  const { child, stderr } = launch(['bench/_bare-route.ts']);
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').once('data', resolve);
    child.once('exit', (code) => reject(new Error(`bare route exited ${code}: ${stderr()}`)));
  });
  return { url: (JSON.parse(line) as { url: string }).url, stop: stopper(child) };
}

async function startPalisade(storeFlags: string[]): Promise<Child> {
  const listen = `127.0.0.1:${await freePort()}`;
  const { child, stderr } = launch([
    '--conditions=@palisade/source',
    'packages/cli/src/main.ts',
    'start',
    '--listen',
    listen,
    '--log-level',
    'warn',
    '--admin-token',
    ADMIN_TOKEN,
    ...storeFlags,
  ]);
  child.stdout?.resume(); // warnings only; never let a full pipe stall the server
  const url = `http://${listen}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`palisade exited ${child.exitCode}: ${stderr()}`);
    if (Date.now() > deadline) throw new Error(`palisade did not become ready: ${stderr()}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { url, stop: stopper(child) };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function call<T>(url: string, method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** A tenant with an API key, a collection and READ_SET records; returns the key and ids. */
async function prepare(url: string): Promise<{ key: string; ids: string[] }> {
  const tenant = await call<{ id: string }>(url, 'POST', '/v1/platform/tenants', ADMIN_TOKEN, {
    slug: 'bench',
    name: 'Bench',
  });
  const { secret: key } = await call<{ secret: string }>(
    url,
    'POST',
    `/v1/platform/tenants/${tenant.id}/api-keys`,
    ADMIN_TOKEN,
    { name: 'bench' },
  );
  await call(url, 'PUT', '/v1/collections/items', key, { schema: SCHEMA });
  const ids: string[] = [];
  const worker = async () => {
    while (ids.length < READ_SET) {
      ids.push(
        (
          await call<{ id: string }>(
            url,
            'POST',
            '/v1/collections/items/records',
            key,
            JSON.parse(BODY),
          )
        ).id,
      );
    }
  };
  await Promise.all(Array.from({ length: SETUP_CONCURRENCY }, worker));
  return { key, ids };
}

interface Options {
  readonly durationSeconds: number;
  readonly connections: number;
}

async function load(
  options: Options,
  phase: Pick<LoadPhase, 'url' | 'method' | 'paths' | 'headers' | 'body'>,
): Promise<LoadFigures> {
  const full: LoadPhase = {
    ...phase,
    connections: options.connections,
    durationSeconds: options.durationSeconds,
    warmupSeconds: WARMUP_SECONDS,
  };
  const { child, stderr } = launch(['bench/_records-load.ts', JSON.stringify(full)]);
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`load generator exited ${code}: ${stderr()}`);
  const figures = JSON.parse(stdout) as LoadFigures;
  if (figures.failed > 0)
    throw new Error(`${phase.method} ${phase.url}: ${figures.failed} failed requests`);
  return figures;
}

/** A running Palisade with a tenant key and the ids of its pre-created records. */
interface Target extends Child {
  readonly key: string;
  readonly ids: string[];
}

async function openPalisade(storeFlags: string[]): Promise<Target> {
  const server = await startPalisade(storeFlags);
  try {
    return { ...server, ...(await prepare(server.url)) };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

function readPhase(options: Options, target: Target): Promise<LoadFigures> {
  return load(options, {
    url: target.url,
    method: 'GET',
    paths: target.ids.map((id) => `/v1/collections/items/records/${id}`),
    headers: { authorization: `Bearer ${target.key}` },
  });
}

function createPhase(options: Options, target: Target): Promise<LoadFigures> {
  return load(options, {
    url: target.url,
    method: 'POST',
    paths: ['/v1/collections/items/records'],
    headers: { authorization: `Bearer ${target.key}`, 'content-type': 'application/json' },
    body: BODY,
  });
}

/** Fresh databases and a runtime role on the PostgreSQL server at `adminUrl`; `drop` removes them. */
async function postgresStores(adminUrl: string) {
  const prefix = `palisade_bench_${randomBytes(4).toString('hex')}`;
  const urlOf = (db: string) => Object.assign(new URL(adminUrl), { pathname: `/${db}` }).toString();
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  for (const db of ['cp', 's1']) await client.query(`CREATE DATABASE ${prefix}_${db}`);
  await client.end();
  return {
    flags: [
      '--database',
      urlOf(`${prefix}_cp`),
      '--shard',
      `s1=${urlOf(`${prefix}_s1`)}`,
      '--postgres-runtime-role',
      `${prefix}_rt`,
    ],
    drop: async () => {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      for (const db of ['cp', 's1'])
        await admin.query(`DROP DATABASE IF EXISTS ${prefix}_${db} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${prefix}_rt`);
      await admin.end();
    },
  };
}

const ms = (n: number) => n.toFixed(1).padStart(8);
const rps = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10);

function row(label: string, figures: LoadFigures): void {
  console.log(
    `  ${label.padEnd(34)}${rps(figures.requestsPerSecond)}${ms(figures.p50Ms)}${ms(figures.p99Ms)}`,
  );
}

function ratio(label: string, value: number, goal: number): void {
  const verdict = value >= goal ? 'meets' : 'MISSES';
  console.log(`  ${label.padEnd(34)}${value.toFixed(2).padStart(10)}   ${verdict} goal ≥ ${goal}`);
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      postgres: { type: 'string' },
      duration: { type: 'string', default: String(DURATION_SECONDS) },
      connections: { type: 'string', default: String(CONNECTIONS) },
    },
  });
  const options: Options = {
    durationSeconds: Number(values.duration),
    connections: Number(values.connections),
  };
  console.log(
    `records over HTTP: ${options.connections} connections, ${WARMUP_SECONDS} s warm-up + ` +
      `${options.durationSeconds} s per phase, autocannon in its own process, ` +
      `${availableParallelism()} CPUs, Node ${process.versions.node}`,
  );
  // Each Palisade phase runs right after its bare peer, so drift in the machine's load
  // affects both sides of a ratio alike.
  const data = mkdtempSync(join(tmpdir(), 'palisade-bench-'));
  const running: Child[] = [];
  const backends: [string, { read: LoadFigures; create: LoadFigures }][] = [];
  let bareGet: LoadFigures;
  let barePost: LoadFigures;
  try {
    const bare = await startBare();
    running.push(bare);
    const sqlite = await openPalisade(['--data', data]);
    running.push(sqlite);
    bareGet = await load(options, { url: bare.url, method: 'GET', paths: ['/bare'], headers: {} });
    const read = await readPhase(options, sqlite);
    barePost = await load(options, {
      url: bare.url,
      method: 'POST',
      paths: ['/bare'],
      headers: { 'content-type': 'application/json' },
      body: BODY,
    });
    const create = await createPhase(options, sqlite);
    backends.push(['SQLite', { read, create }]);
    await sqlite.stop();
    if (values.postgres !== undefined) {
      const stores = await postgresStores(values.postgres);
      try {
        const postgres = await openPalisade(['--data', data, ...stores.flags]);
        try {
          const pgRead = await readPhase(options, postgres);
          const pgCreate = await createPhase(options, postgres);
          backends.push(['PostgreSQL', { read: pgRead, create: pgCreate }]);
        } finally {
          await postgres.stop();
        }
      } finally {
        await stores.drop();
      }
    }
  } finally {
    for (const child of running) await child.stop();
    rmSync(data, { recursive: true, force: true });
  }

  console.log(
    `\n  ${'phase'.padEnd(34)}${'req/s'.padStart(10)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}`,
  );
  row('bare Fastify GET (small JSON)', bareGet);
  row('bare Fastify POST (echo)', barePost);
  for (const [name, figures] of backends) {
    row(`Palisade read by id, ${name}`, figures.read);
    row(`Palisade create, ${name}`, figures.create);
  }
  console.log('');
  for (const [name, figures] of backends) {
    ratio(
      `read / bare GET, ${name}`,
      figures.read.requestsPerSecond / bareGet.requestsPerSecond,
      0.5,
    );
    ratio(
      `create / bare POST, ${name}`,
      figures.create.requestsPerSecond / barePost.requestsPerSecond,
      0.3,
    );
  }
}
