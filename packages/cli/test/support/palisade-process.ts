/**
 * Runs the built `palisade` command (packages/cli/dist/main.js) as users do: a plain `node`
 * without the `@palisade/source` condition, so the CLI and the server it imports are the
 * compiled dist. Every process runs in a scratch working directory with an environment free
 * of the caller's PALISADE_* variables, so no stray config file or setting leaks in.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI_MAIN = join(REPO, 'packages/cli/dist/main.js');
/** Guards against a hung child; never a timing assertion. */
const PROCESS_TIMEOUT_MS = 60_000;

const WORKDIR = mkdtempSync(join(tmpdir(), 'palisade-cli-cwd-'));
process.once('exit', () => rmSync(WORKDIR, { recursive: true, force: true }));

/** Fails early with the fix when the dist is missing, instead of an obscure spawn error. */
export function assertBuilt(): void {
  if (!existsSync(CLI_MAIN))
    throw new Error(`${CLI_MAIN} is missing: run npm run build before the CLI tests`);
}

/** The caller's environment without its PALISADE_* and Node test settings, plus `extra`. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('PALISADE_') || key === 'NODE_OPTIONS' || key.startsWith('NODE_TEST'))
      continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `palisade ARGS` to completion. */
export function palisade(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI_MAIN, ...args],
      { cwd: WORKDIR, env: cleanEnv(env), timeout: PROCESS_TIMEOUT_MS },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : (error as { code?: unknown }).code;
        if (typeof code !== 'number') {
          reject(new Error(`palisade ${args.join(' ')}: ${String(error)}\n${stderr}`));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A `palisade start` child that has logged "palisade is listening". */
export interface RunningServer {
  readonly url: string;
  /** The admin token printed at first start, if the server generated one. */
  readonly generatedToken: string | undefined;
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Sends a signal and resolves with the exit code once the process is gone. */
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

/** The complete JSON log lines written so far (pino writes one object per line). */
export function logLines(text: string): Record<string, unknown>[] {
  const lines = text.split('\n').slice(0, -1);
  const parsed: Record<string, unknown>[] = [];
  for (const line of lines) {
    try {
      parsed.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not a log line
    }
  }
  return parsed;
}

export interface StartOptions {
  readonly env?: Record<string, string>;
  /** Wait for the admin token a first start prints to stderr (no token was configured). */
  readonly expectToken?: boolean;
}

/** Starts `palisade start ARGS` and waits until it listens (and printed its token, if asked). */
export function startServer(args: string[], options: StartOptions = {}): Promise<RunningServer> {
  const child = spawn(process.execPath, [CLI_MAIN, 'start', ...args], {
    cwd: WORKDIR,
    env: cleanEnv(options.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  // 'close', not 'exit': only then has all of its output been read.
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => resolve(code)),
  );
  const stop = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      done();
      child.kill('SIGKILL');
      reject(new Error(`palisade start ${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    };
    const check = () => {
      const listening = logLines(stdout).find((line) => line.msg === 'palisade is listening');
      const token = /\b(pa_[A-Za-z0-9_-]+)/.exec(stderr)?.[1];
      if (listening === undefined || (options.expectToken === true && token === undefined)) return;
      done();
      resolve({
        url: String(listening.url),
        generatedToken: token,
        child,
        stdout: () => stdout,
        stderr: () => stderr,
        stop,
      });
    };
    const onExit = (code: number | null) => fail(`exited with ${code} before listening`);
    const timer = setTimeout(() => fail('did not listen in time'), PROCESS_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      child.stdout.off('data', check);
      child.stderr.off('data', check);
      child.off('exit', onExit);
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('exit', onExit);
  });
}
