/**
 * `palisade` from source (`--conditions=@palisade/source`), for tests of processes that do
 * not need the built dist: witnesses, servers that ledger tests drive, and the processes of
 * one platform started with `--role` for the scale-out tests.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, logLines } from './palisade-process.ts';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const MAIN = join(REPO, 'packages/cli/src/main.ts');
const NODE_ARGS = ['--conditions=@palisade/source', MAIN];
/** Guards against a hung child; never a timing assertion. */
const PROCESS_TIMEOUT_MS = 60_000;

/** Runs `palisade ARGS` from source to completion. */
export function palisadeFromSource(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...NODE_ARGS, ...args],
      { cwd: REPO, env: cleanEnv(env), timeout: PROCESS_TIMEOUT_MS },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : (error as { code?: unknown }).code;
        if (typeof code !== 'number') reject(new Error(`${String(error)}\n${stderr}`));
        else resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A `palisade` child started from source, with the log line it was waited for. */
export interface SourceProcess {
  readonly child: ChildProcess;
  /** The log line `ready` passed: `url` (api, witness) and `mqtt` (ingest) among its fields. */
  readonly started: Record<string, unknown>;
  stdout(): string;
  /** Resolves once a log line passes `match` (or rejects after the guard timeout). */
  waitForLog(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

/** Starts `palisade ARGS` from source and waits for a log line that passes `ready`. */
export async function startFromSource(
  args: string[],
  ready: (line: Record<string, unknown>) => boolean,
): Promise<SourceProcess> {
  const child = spawn(process.execPath, [...NODE_ARGS, ...args], {
    cwd: REPO,
    env: cleanEnv({}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  // 'close', not 'exit': only then has all of its output been read.
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
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
          new Error(`palisade ${args.join(' ')}: ${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`),
        );
      }
      child.stdout.on('data', check);
      child.once('exit', onExit);
      check();
    });
  try {
    const started = await waitForLog(ready);
    return {
      child,
      started,
      stdout: () => stdout,
      waitForLog,
      stop(signal) {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

export interface WitnessProcess extends SourceProcess {
  readonly url: string;
}

/** Starts `palisade witness ARGS` and waits for its "witness is listening" log line. */
export async function startWitnessProcess(args: string[]): Promise<WitnessProcess> {
  const witness = await startFromSource(
    ['witness', ...args],
    (l) => l.msg === 'witness is listening',
  );
  return { ...witness, url: String(witness.started.url) };
}

/** Starts `palisade start ARGS` (a `--role` among them) and waits until it listens or runs. */
export function startRole(args: string[]): Promise<SourceProcess> {
  return startFromSource(
    ['start', ...args],
    (l) => l.msg === 'palisade is listening' || l.msg === 'palisade is running',
  );
}
