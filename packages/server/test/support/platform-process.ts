/**
 * `palisade start` from source in a child process, to be killed (SIGKILL) at a chosen moment.
 * With `inspect`, the child runs with the V8 inspector on a free port and `pauseAt` stops it on
 * a line of a source file through the Chrome DevTools Protocol: the test then knows exactly
 * how far the child got when it is killed, without any hook in the server's code.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { BackendFixture } from './backends.ts';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const SERVER_SRC = fileURLToPath(new URL('../../src/', import.meta.url));
/** Guards against a hung child; never a timing assertion. */
const START_TIMEOUT_MS = 60_000;

export interface PlatformProcess {
  /** `http://host:port` the child's API listens on. */
  readonly url: string;
  /** The child's "palisade is listening" log line (`mqtt` and `mqttWs` among its fields). */
  readonly started: Record<string, unknown>;
  readonly child: ChildProcess;
  /** Resolves with the signal that ended the child (or its exit code) once all its output is read. */
  readonly exited: Promise<NodeJS.Signals | number | null>;
  /**
   * Sets a breakpoint on the first line of `file` (relative to packages/server/src) that
   * contains `text`, once set: `reached` resolves when the child stops there.
   */
  pauseAt(file: string, text: string): Promise<{ readonly reached: Promise<void> }>;
  /**
   * SIGKILLs the child and resolves once it is gone, and on PostgreSQL once the database has
   * ended its sessions too: only then are the session locks it held (its leases, a creation's
   * claim) free, which the server notices on its own time, later under load.
   */
  kill(): Promise<void>;
}

export interface PlatformProcessOptions {
  readonly adminToken: string;
  /** `palisade start` flags beyond the fixture's stores (`--mqtt 127.0.0.1:0`, say). */
  readonly flags?: readonly string[];
  /** Receives everything the child writes to stdout and stderr, to search its whole log. */
  readonly log?: { text: string };
  /** Runs the child with the V8 inspector, for `pauseAt`. */
  readonly inspect?: boolean;
}

function startFlags(settings: BackendFixture['settings']): string[] {
  return [
    ...['--data', settings.data, '--listen', '127.0.0.1:0', '--log-level', 'info'],
    ...settings.shards.flatMap((shard) => ['--shard', shard]),
    ...(settings.database === undefined
      ? []
      : [
          ...['--database', settings.database],
          ...['--postgres-runtime-role', settings.postgresRuntimeRole],
          ...['--postgres-pool-size', String(settings.postgresPoolSize)],
        ]),
  ];
}

/** A minimal DevTools Protocol client over the inspector's WebSocket. */
class Inspector {
  readonly #ws: WebSocket;
  readonly #answers = new Map<number, (message: unknown) => void>();
  readonly #paused = new Set<() => void>();
  #next = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; method?: string };
      if (message.id !== undefined) this.#answers.get(message.id)?.(message);
      if (message.method !== 'Debugger.paused') return;
      for (const resolve of this.#paused) resolve();
      this.#paused.clear();
    });
  }

  static async open(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve, { once: true });
      ws.addEventListener('error', reject, { once: true });
    });
    const inspector = new Inspector(ws);
    await inspector.send('Debugger.enable');
    return inspector;
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    this.#next += 1;
    const id = this.#next;
    return new Promise((resolve) => {
      this.#answers.set(id, resolve);
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  paused(): Promise<void> {
    return new Promise((resolve) => this.#paused.add(resolve));
  }

  close(): void {
    this.#ws.close();
  }
}

/** Starts the child on the fixture's stores and resolves once it listens. */
export async function startPlatformProcess(
  fixture: BackendFixture,
  options: PlatformProcessOptions,
): Promise<PlatformProcess> {
  // Its PostgreSQL sessions carry this name (node-postgres reads PGAPPNAME), so kill can wait for them.
  const sessions = `palisade-test-${randomUUID()}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PALISADE_ADMIN_TOKEN: options.adminToken,
    PGAPPNAME: sessions,
  };
  for (const key of Object.keys(env))
    if (key.startsWith('NODE_TEST') || (key.startsWith('PALISADE_') && !key.endsWith('_TOKEN')))
      delete env[key];
  const child = spawn(
    process.execPath,
    [
      ...(options.inspect === true ? ['--inspect=127.0.0.1:0'] : []),
      '--conditions=@palisade/source',
      'packages/cli/src/main.ts',
      'start',
      ...startFlags(fixture.settings),
      ...(options.flags ?? []),
    ],
    { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // 'close', not 'exit': only then has all of its output been read.
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('close', (code, signal) => resolve(signal ?? code)),
  );
  const { log } = options;
  let stdout = '';
  let stderr = '';
  const inspectorUrl = new Promise<string>((resolve) => {
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (log !== undefined) log.text += chunk;
      const url = /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
      if (url !== undefined) resolve(url);
    });
  });
  child.stdout.setEncoding('utf8');
  // Keeps draining the request log, so the child never blocks on a full pipe.
  child.stdout.on('data', (chunk: string) => {
    if (log !== undefined) log.text += chunk;
  });
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start\n${stdout}\n${stderr}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: string) => {
      stdout += chunk;
      const line = stdout
        .split('\n')
        .slice(0, -1)
        .find((text) => text.includes('"msg":"palisade is listening"'));
      if (line === undefined) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onEarlyExit);
      resolve(JSON.parse(line) as Record<string, unknown>);
    };
    const onEarlyExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening\n${stdout}\n${stderr}`));
    };
    child.stdout.on('data', onData);
    child.once('exit', onEarlyExit);
  });
  let inspector: Inspector | undefined;
  return {
    url: String(started.url),
    started,
    child,
    exited,
    pauseAt: async (file, text) => {
      const path = `${SERVER_SRC}${file}`;
      const line = readFileSync(path, 'utf8')
        .split('\n')
        .findIndex((source) => source.includes(text));
      if (line < 0) throw new Error(`${file} has no line with ${JSON.stringify(text)}`);
      inspector ??= await Inspector.open(await inspectorUrl);
      const reached = inspector.paused();
      const escaped = file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      await inspector.send('Debugger.setBreakpointByUrl', {
        urlRegex: `${escaped}$`,
        lineNumber: line,
      });
      return { reached };
    },
    kill: async () => {
      inspector?.close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      if (fixture.settings.database !== undefined)
        await sessionsEnded(fixture.settings.database, sessions);
    },
  };
}

/** Resolves once the PostgreSQL server at `url` holds no session named `name`. */
async function sessionsEnded(url: string, name: string): Promise<void> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    for (;;) {
      const left = await db.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [
        name,
      ]);
      if (left.rowCount === 0) return;
      await sleep(10);
    }
  } finally {
    await db.end();
  }
}
