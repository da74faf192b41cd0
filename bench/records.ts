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
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  type Child,
  call,
  load,
  type Options,
  startBare,
  startPalisade,
  WARMUP_SECONDS,
} from './_processes.ts';
import type { LoadFigures } from './_records-load.ts';

/** Measured seconds per phase, after WARMUP_SECONDS not counted. */
const DURATION_SECONDS = 8;
/** Concurrent connections of the load generator. */
const CONNECTIONS = 64;
/** Records created before the read phase; reads cycle through them. */
const READ_SET = 1000;
/** Concurrency of the setup requests. */
const SETUP_CONCURRENCY = 32;

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

/** A running Palisade with a tenant key and the ids of its pre-created records. */
interface Target extends Child {
  readonly key: string;
  readonly ids: string[];
}

async function openPalisade(storeFlags: string[]): Promise<Target> {
  const server = await startPalisade(ADMIN_TOKEN, storeFlags);
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
