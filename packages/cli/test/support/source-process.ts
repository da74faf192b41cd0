/**
 * `palisade` from source (`--conditions=@palisade/source`), for tests of processes that do
 * not need the built dist: witnesses, and servers that ledger tests drive.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logLines } from './palisade-process.ts';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const MAIN = join(REPO, 'packages/cli/src/main.ts');
const NODE_ARGS = ['--conditions=@palisade/source', MAIN];
/** Guards against a hung child; never a timing assertion. */
const PROCESS_TIMEOUT_MS = 60_000;

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('PALISADE_') || key === 'NODE_OPTIONS' || key.startsWith('NODE_TEST'))
      continue;
    env[key] = value;
  }
  return env;
}

/** Runs `palisade ARGS` from source to completion. */
export function palisadeFromSource(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...NODE_ARGS, ...args],
      { cwd: REPO, env: { ...childEnv(), ...env }, timeout: PROCESS_TIMEOUT_MS },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : (error as { code?: unknown }).code;
        if (typeof code !== 'number') reject(new Error(`${String(error)}\n${stderr}`));
        else resolve({ code, stdout, stderr });
      },
    );
  });
}

export interface WitnessProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stdout(): string;
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

/** Starts `palisade witness ARGS` and waits for its "witness is listening" log line. */
export function startWitnessProcess(args: string[]): Promise<WitnessProcess> {
  const child = spawn(process.execPath, [...NODE_ARGS, 'witness', ...args], {
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
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail('did not listen in time'), PROCESS_TIMEOUT_MS);
    const onExit = (code: number | null) => fail(`exited with ${code} before listening`);
    const done = () => {
      clearTimeout(timer);
      child.stdout.off('data', check);
      child.off('exit', onExit);
    };
    function fail(why: string) {
      done();
      child.kill('SIGKILL');
      reject(new Error(`palisade witness ${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }
    function check() {
      const line = logLines(stdout).find((l) => l.msg === 'witness is listening');
      if (line === undefined) return;
      done();
      resolve({
        url: String(line.url),
        child,
        stdout: () => stdout,
        stop(signal) {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    }
    child.stdout.on('data', check);
    child.once('exit', onExit);
  });
}
