/**
 * Stopping the node's periodic pulls while the platform holds a request open: the stop ends
 * the request instead of waiting for its timeout, and is not reported as a failure.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { CredentialCache, CredentialRefresh } from '../src/credentials/index.ts';
import { Outbox } from '../src/outbox.ts';
import { EdgePipeline, EMPTY_BOOK, RuleEngine, RuleRefresh } from '../src/rules/index.ts';

/** Long enough that only a stop can end the request within the test's timeout. */
const NEVER = 600_000;
const SETTINGS = { intervalMs: NEVER, retryMs: NEVER, requestTimeoutMs: NEVER };

describe('stopping a refresh while the platform does not answer', () => {
  let dir: string;
  let silent: Server;
  let arrived: Promise<void>;
  const sockets = new Set<Socket>();
  let node: { url: string; nodeId: string; credential: string; ed25519: string; mldsa65: string };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edge-refresh-stop-'));
    let connected!: () => void;
    arrived = new Promise((resolve) => {
      connected = resolve;
    });
    silent = createServer((socket) => {
      sockets.add(socket);
      connected();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    node = {
      url: `http://127.0.0.1:${port}`,
      nodeId: 'n',
      credential: 'pn_x',
      ed25519: '',
      mldsa65: '',
    };
  });
  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  test('the credential refresh stops at once', { timeout: 20_000 }, async () => {
    const cache = new CredentialCache(join(dir, 'credentials.db'));
    const failures: unknown[] = [];
    const refresh = new CredentialRefresh(cache, node, SETTINGS, {
      failed: (error) => failures.push(error),
    });
    refresh.start();
    await arrived;
    await refresh.stop();
    assert.deepEqual(failures, [], 'a stop is not a failed refresh');
    cache.close();
  });

  test('the rule refresh stops at once', { timeout: 20_000 }, async () => {
    const outbox = new Outbox(join(dir, 'outbox.db'), randomBytes(32), { maxMessages: 10 });
    const pipeline = new EdgePipeline(outbox, new RuleEngine(EMPTY_BOOK));
    const failures: unknown[] = [];
    const refresh = new RuleRefresh(dir, node, pipeline, SETTINGS, {
      failed: (error) => failures.push(error),
    });
    refresh.start();
    await arrived;
    await refresh.stop();
    assert.deepEqual(failures, [], 'a stop is not a failed pull');
    outbox.close();
  });
});
