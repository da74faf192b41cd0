/**
 * `palisade witness` as operators run it: keys made with `witness keygen`, three witnesses
 * as separate processes, a log that gets three cosignatures per checkpoint, then a rewritten
 * history (same origin, same keys) that every witness refuses, also after a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  addCheckpoint,
  type LogKeys,
  logSpecs,
  makeLogKeys,
  TestLog,
  verifiedCosignatures,
} from '../../server/test/witness-support.ts';
import { logLines } from './support/palisade-process.ts';
import {
  palisadeFromSource as palisade,
  startWitnessProcess,
  type WitnessProcess,
} from './support/source-process.ts';

const ORIGIN = 'palisade.test/platform';

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
