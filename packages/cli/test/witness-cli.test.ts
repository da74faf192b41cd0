/**
 * `palisade witness` as operators run it: keys made with `witness keygen`, three witnesses
 * as separate processes, a log that gets three cosignatures per checkpoint, then a rewritten
 * history (same origin, same keys) that every witness refuses, also after a restart.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  addCheckpoint,
  type LogKeys,
  logSpecs,
  makeLogKeys,
  TestLog,
  verifiedCosignatures,
} from '../../server/test/witness-support.ts';
import { logLines } from './support/palisade-process.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(REPO, 'packages/cli/src/main.ts');
const NODE_ARGS = ['--conditions=@palisade/source', MAIN];
/** Guards against a hung child; never a timing assertion. */
const PROCESS_TIMEOUT_MS = 60_000;
const ORIGIN = 'palisade.test/platform';

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
function palisade(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...NODE_ARGS, ...args],
      { cwd: REPO, env: childEnv(), timeout: PROCESS_TIMEOUT_MS },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : (error as { code?: unknown }).code;
        if (typeof code !== 'number') reject(new Error(`${String(error)}\n${stderr}`));
        else resolve({ code, stdout, stderr });
      },
    );
  });
}

interface WitnessProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stdout(): string;
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

/** Starts `palisade witness ARGS` and waits for its "witness is listening" log line. */
function startWitnessProcess(args: string[]): Promise<WitnessProcess> {
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

interface Operator {
  readonly keyFile: string;
  readonly stateFile: string;
  /** The vkeys `witness keygen` printed. */
  readonly vkeys: string[];
  witness?: WitnessProcess;
}

describe('palisade witness: three witness processes and a rewritten history', () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-witness-cli-'));
  let logKeys: LogKeys;
  let log: TestLog;
  const operators: Operator[] = [];

  const serveArgs = (operator: Operator) => [
    '--listen',
    '127.0.0.1:0',
    '--key',
    operator.keyFile,
    '--state',
    operator.stateFile,
    ...logSpecs(logKeys).flatMap((spec) => ['--log', spec]),
  ];

  /** POSTs `body` to every running witness. */
  const pushAll = (body: string) =>
    Promise.all(operators.map((operator) => addCheckpoint(operator.witness!.url, body)));

  before(async () => {
    logKeys = makeLogKeys(ORIGIN);
    log = new TestLog(logKeys);
    for (const n of [1, 2, 3]) {
      const keyFile = join(dir, `w${n}.key.json`);
      const made = await palisade([
        'witness',
        'keygen',
        '--name',
        `witness.test/w${n}`,
        '--out',
        keyFile,
      ]);
      assert.equal(made.code, 0, made.stderr);
      operators.push({
        keyFile,
        stateFile: join(dir, `w${n}.state.db`),
        vkeys: made.stdout.trim().split('\n'),
      });
    }
    await Promise.all(
      operators.map(async (operator) => {
        operator.witness = await startWitnessProcess(serveArgs(operator));
      }),
    );
  });

  after(async () => {
    await Promise.all(operators.map((operator) => operator.witness?.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  });

  it('keygen writes a 0600 key file and prints an Ed25519 (0x04) and an ML-DSA-44 (0x06) vkey', () => {
    for (const [n, operator] of operators.entries()) {
      assert.equal(statSync(operator.keyFile).mode & 0o777, 0o600);
      assert.equal(operator.vkeys.length, 2);
      for (const [i, type] of [0x04, 0x06].entries()) {
        const [name, id, key] = operator.vkeys[i]!.split('+');
        assert.equal(name, `witness.test/w${n + 1}`);
        assert.match(id!, /^[0-9a-f]{8}$/);
        assert.equal(Buffer.from(key!, 'base64')[0], type);
      }
    }
  });

  it('each witness logs its url, name and vkeys when it listens', () => {
    for (const operator of operators) {
      const line = logLines(operator.witness!.stdout()).find(
        (l) => l.msg === 'witness is listening',
      );
      assert.deepEqual(line?.vkeys, operator.vkeys);
      assert.match(String(line?.url), /^http:\/\/127\.0\.0\.1:\d+$/);
    }
  });

  it('a growing log gets three cosignatures (six signature lines) for every checkpoint', async () => {
    let old = 0;
    for (const grow of [4, 6, 5]) {
      await log.append(grow);
      const answers = await pushAll(await log.request(old));
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 200],
        answers.map((a) => a.body).join(''),
      );
      const verified = await verifiedCosignatures(
        await log.checkpoint(),
        answers.map((a) => a.body).join(''),
        operators.flatMap((operator) => operator.vkeys),
      );
      assert.equal(verified.length, 6);
      assert.deepEqual(new Set(verified.map((v) => v.split('+')[0])).size, 3);
      old = log.size;
    }
  });

  it('a rewritten history with the same origin and keys gets 409 from all three', async () => {
    const rewritten = await log.rewrite('rewritten').append(log.size);
    // The rewritten log at the size the witnesses cosigned: a fork.
    const fork = await pushAll(await rewritten.request(log.size));
    assert.deepEqual(
      fork.map((a) => [a.status, a.contentType, a.body]),
      operators.map(() => [409, 'text/x.tlog.size', `${log.size}\n`]),
    );
    // The rewritten log starting over, as a server that lost its state would.
    const restart = await pushAll(await rewritten.request(0));
    assert.deepEqual(
      restart.map((a) => [a.status, a.body]),
      operators.map(() => [409, `${log.size}\n`]),
    );
    // Grown past the cosigned size: its proof cannot connect to the cosigned root (C2SP: 422).
    await rewritten.append(3);
    const grown = await pushAll(await rewritten.request(log.size));
    assert.deepEqual(
      grown.map((a) => a.status),
      [422, 422, 422],
    );
  });

  it('stops cleanly on SIGTERM and, restarted from its state file, still refuses the fork', async () => {
    const codes = await Promise.all(operators.map((operator) => operator.witness!.stop('SIGTERM')));
    assert.deepEqual(codes, [0, 0, 0]);
    for (const operator of operators) {
      assert.ok(
        logLines(operator.witness!.stdout()).some((l) => l.msg === 'witness shutting down'),
      );
    }
    await Promise.all(
      operators.map(async (operator) => {
        operator.witness = await startWitnessProcess(serveArgs(operator));
      }),
    );
    const rewritten = await log.rewrite('rewritten-again').append(log.size);
    const fork = await pushAll(await rewritten.request(log.size));
    assert.deepEqual(
      fork.map((a) => a.status),
      [409, 409, 409],
    );
    await log.append(2);
    const honest = await pushAll(await log.request(log.size - 2));
    assert.deepEqual(
      honest.map((a) => a.status),
      [200, 200, 200],
    );
  });

  it('reports usage errors with exit code 2', async () => {
    const missing = await palisade(['witness', 'keygen', '--name', 'witness.test/x']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--out is required/);
    const noLogs = await palisade([
      'witness',
      '--listen',
      '127.0.0.1:0',
      '--key',
      operators[0]!.keyFile,
      '--state',
      join(dir, 'unused.db'),
    ]);
    assert.equal(noLogs.code, 2);
    assert.match(noLogs.stderr, /at least one --log/);
  });
});
