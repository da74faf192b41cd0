/**
 * Processes of the HTTP benchmarks (records, crypto): a Palisade server, a bare Fastify peer
 * and the autocannon load generator, each in its own process so none shares an event loop
 * with another.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { LoadFigures, LoadPhase } from './_records-load.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/**
 * The runtime flags `npm start` gives Node (package.json), so the benchmarks measure the
 * server as it is started; the bare peer gets them too, so a ratio compares code, not flags.
 */
const START_FLAGS: readonly string[] = (() => {
  const scripts = JSON.parse(readFileSync(`${REPO}/package.json`, 'utf8')).scripts as {
    start: string;
  };
  return scripts.start
    .split(/\s+/)
    .filter((word) => word.startsWith('--') && !word.startsWith('--conditions='));
})();
/** Seconds of load before each measured phase, not counted. */
export const WARMUP_SECONDS = 2;
/** How long a server may take to answer /readyz. */
const START_TIMEOUT_MS = 30_000;

export interface Child {
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

export async function startBare(): Promise<Child> {
  const { child, stderr } = launch([...START_FLAGS, 'bench/_bare-route.ts']);
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').once('data', resolve);
    child.once('exit', (code) => reject(new Error(`bare route exited ${code}: ${stderr()}`)));
  });
  return { url: (JSON.parse(line) as { url: string }).url, stop: stopper(child) };
}

/** `palisade start` from source with `--log-level warn` and the given admin token and flags. */
export async function startPalisade(adminToken: string, storeFlags: string[]): Promise<Child> {
  const listen = `127.0.0.1:${await freePort()}`;
  const { child, stderr } = launch([
    ...START_FLAGS,
    '--conditions=@palisade/source',
    'packages/cli/src/main.ts',
    'start',
    '--listen',
    listen,
    '--log-level',
    'warn',
    '--admin-token',
    adminToken,
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

export async function call<T>(
  url: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export interface Options {
  readonly durationSeconds: number;
  readonly connections: number;
}

/** Runs one autocannon phase (warm-up, then measured) in its own process. */
export async function load(
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
