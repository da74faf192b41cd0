import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AGENT_PID_FILE, acquireNodeDirLock, NodeDirInUseError } from '../src/node-dir-lock.ts';
import { newOutboxKey, writeNodeFile } from '../src/node-file.ts';
import { EdgeProcess, runCli, until } from './support/edge-harness.ts';

/** A node directory enrolled (by hand) with a platform that is never reachable. */
function enrolledDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edge-lock-'));
  const pem = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString();
  writeNodeFile(dir, {
    version: 1,
    url: 'http://127.0.0.1:1',
    nodeId: 'node-1',
    credential: 'pn_test',
    ed25519: pem(generateKeyPairSync('ed25519').privateKey),
    mldsa65: pem(generateKeyPairSync('ml-dsa-65' as 'ed25519').privateKey),
    keyVersion: 1,
    enrolledAt: new Date().toISOString(),
    outboxKey: newOutboxKey(),
  });
  return dir;
}

/** Starts an agent on `dir`; resolves once it logged `started` or exited, whichever first. */
async function startAgent(dir: string) {
  const agent = new EdgeProcess(['--dir', dir]);
  let exit: [number | null, string | null] | undefined;
  void agent.exited.then((e) => {
    exit = e;
  });
  await until(() => exit !== undefined || agent.logs.some((l) => l.event === 'started'));
  return { agent, exit: () => exit };
}

test('a second agent on one directory is refused, naming the first; SIGKILL never blocks a restart', async (t) => {
  const dir = enrolledDir();
  const agents: EdgeProcess[] = [];
  t.after(() => {
    for (const agent of agents) if (agent.child.exitCode === null) agent.child.kill('SIGKILL');
  });
  const first = await startAgent(dir);
  agents.push(first.agent);
  assert.equal(first.exit(), undefined, 'the first agent runs');

  const second = await startAgent(dir);
  agents.push(second.agent);
  assert.deepEqual(second.exit(), [1, null], 'the second agent exits 1 (failure) without starting');
  const run = await runCli(['start', '--dir', dir]);
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    new RegExp(
      `^palisade-edge: another palisade-edge agent \\(pid ${first.agent.child.pid} on .*\\) is running on ${dir}; stop it \\(kill -TERM ${first.agent.child.pid}\\)`,
    ),
  );

  // accept and status stay safe beside the running agent.
  const json = JSON.stringify({ ts: 1, values: { n: 1 } });
  assert.equal((await runCli(['accept', '--dir', dir, '--device', 'd', '--json', json])).code, 0);
  assert.equal((await runCli(['status', '--dir', dir, '--json'])).code, 0);

  // Killed without a chance to clean up: the OS drops the lock, the next agent starts.
  first.agent.child.kill('SIGKILL');
  await first.agent.exited;
  const next = await startAgent(dir);
  agents.push(next.agent);
  assert.equal(next.exit(), undefined, 'an agent starts after a SIGKILLed one');
  assert.deepEqual(await next.agent.stop(), [0, null]);
  assert.equal(existsSync(join(dir, AGENT_PID_FILE)), false, 'a clean stop leaves no pid file');
  rmSync(dir, { recursive: true, force: true });
});

test('the directory lock: held until released, then free again', () => {
  const dir = enrolledDir();
  const lock = acquireNodeDirLock(dir);
  assert.throws(
    () => acquireNodeDirLock(dir),
    (error: unknown) =>
      error instanceof NodeDirInUseError &&
      error.holder?.pid === process.pid &&
      /kill -TERM/.test(error.message),
  );
  lock.release();
  lock.release();
  acquireNodeDirLock(dir).release();
  rmSync(dir, { recursive: true, force: true });
});
