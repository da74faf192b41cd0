/**
 * `palisade start --role …` from source, for the scale-out tests: several processes of one
 * platform, each waited for until it logs that it listens (api, ingest) or runs (worker).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logLines } from './palisade-process.ts';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const MAIN = join(REPO, 'packages/cli/src/main.ts');
/** Guards against a hung child; never a timing assertion. */
const PROCESS_TIMEOUT_MS = 60_000;

export interface RoleProcess {
  readonly child: ChildProcess;
  /** The start line: `url` (api) and `mqtt` (ingest) among its fields. */
  readonly started: Record<string, unknown>;
  stdout(): string;
  /** Resolves once a log line passes `match` (or rejects after the guard timeout). */
  waitForLog(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('PALISADE_') || key === 'NODE_OPTIONS' || key.startsWith('NODE_TEST'))
      continue;
    env[key] = value;
  }
  return env;
}

/** Starts `palisade start ARGS` from source and waits for its start line. */
export async function startRole(args: string[]): Promise<RoleProcess> {
  const child = spawn(process.execPath, ['--conditions=@palisade/source', MAIN, 'start', ...args], {
    cwd: REPO,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const waitForLog = (match: (line: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const line = logLines(stdout).find(match);
        if (line === undefined) return;
        done();
        resolve(line);
      };
      const onExit = (code: number | null) => fail(`exited with ${code}`);
      const timer = setTimeout(() => fail('timed out'), PROCESS_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        child.stdout.off('data', check);
        child.off('exit', onExit);
      };
      function fail(why: string) {
        done();
        reject(
          new Error(
            `palisade start ${args.join(' ')}: ${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`,
          ),
        );
      }
      child.stdout.on('data', check);
      child.once('exit', onExit);
      check();
    });
  const process_: Omit<RoleProcess, 'started'> = {
    child,
    stdout: () => stdout,
    waitForLog,
    stop(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  try {
    const started = await waitForLog(
      (l) => l.msg === 'palisade is listening' || l.msg === 'palisade is running',
    );
    return { ...process_, started };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}
