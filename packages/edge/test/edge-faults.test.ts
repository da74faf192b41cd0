import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startPlatform } from '../../server/src/index.ts';
import { DEFAULT_SYNC, Outbox, readOutboxStatus, SyncLoop } from '../src/index.ts';
import { outboxPath } from '../src/node-file.ts';
import type { PlatformRefusedError } from '../src/platform-call.ts';
import {
  drained,
  EdgeProcess,
  enrollNode,
  type PlatformLink as Link,
  PlatformLink,
  runCli,
  until,
} from './support/edge-harness.ts';

const PER_DEVICE = 100;
const BATCH = '10';

/** Enrolls a node through the command and fills its outbox: devices interleaved, n = 0…99 each. */
async function enrolledWithBacklog(link: Link, slug: string) {
  const dir = mkdtempSync(join(tmpdir(), `edge-${slug}-`));
  const { key } = await link.api.tenant(slug);
  const node = await enrollNode(link, key, dir, `${slug}-gw`);
  const devices: string[] = [];
  for (const name of ['d0', 'd1'])
    devices.push(
      (await link.call('POST', '/v1/devices', key, { name, edgeNodeId: node.nodeId })).body.id,
    );
  const outbox = new Outbox(outboxPath(dir), Buffer.from(node.outboxKey, 'base64'), {
    maxMessages: 10_000,
  });
  const base = Date.now() - 60_000;
  for (let i = 0; i < PER_DEVICE; i++)
    for (const device of devices) outbox.accept(device, { ts: base + i, values: { n: i } });
  outbox.close();
  return { dir, key, devices };
}

/** Each device holds exactly its accepted messages in order; each batch applied once. */
async function assertExactlyOnce(link: Link, key: string, devices: string[]) {
  const expected = Array.from({ length: PER_DEVICE }, (_, i) => i);
  for (const device of devices) assert.deepEqual(await link.values(key, device), expected);
  let applied = 0;
  for (const [batchId, bodies] of link.answers) {
    assert.ok(bodies.length >= 1);
    for (const body of bodies) assert.equal(body, bodies[0], `batch ${batchId} answered alike`);
    const result = JSON.parse(bodies[0] ?? '{}');
    assert.deepEqual(result.refused, [], `batch ${batchId} refused nothing`);
    applied += result.applied;
  }
  assert.equal(applied, PER_DEVICE * devices.length, 'every message applied exactly once');
}

async function stopGracefully(edge: EdgeProcess): Promise<void> {
  const [code] = await edge.stop();
  assert.equal(code, 0);
  assert.equal(edge.logs.at(-1)?.event, 'stopped');
  assert.equal(edge.logs.at(-1)?.backlog, 0);
}

test('SIGKILL mid-sync, restart: nothing acknowledged is lost or applied twice', async () => {
  const link = await PlatformLink.start();
  const { dir, key, devices } = await enrolledWithBacklog(link, 'kill');
  // The 6th batch is applied by the platform, but its answer never reaches the edge.
  let held: { batchId: string; cut: () => void } | undefined;
  link.fault = (batchId, nth) =>
    nth === 5 && !link.answers.has(batchId) ? 'hold-response' : 'pass';
  link.onFault = (_fault, response) => {
    held = { batchId: link.order[5] ?? '', cut: () => response.socket?.destroy() };
  };
  const first = new EdgeProcess(['--dir', dir, '--batch-max-messages', BATCH]);
  await until(() => held !== undefined && link.answers.has(held.batchId));
  first.child.kill('SIGKILL');
  assert.deepEqual((await first.exited)[1], 'SIGKILL');
  held?.cut();
  const killed = readOutboxStatus(outboxPath(dir));
  assert.equal(killed.backlog, 2 * PER_DEVICE - 5 * Number(BATCH), 'five batches confirmed');
  assert.equal(
    killed.inFlight,
    2 * Number(BATCH),
    'the held batch and the next one, formed while it was in flight, are unconfirmed',
  );

  const second = new EdgeProcess(['--dir', dir, '--batch-max-messages', BATCH]);
  await until(drained(dir));
  await stopGracefully(second);
  assert.equal(link.answers.get(held?.batchId ?? '')?.length, 2, 'the held batch was resent');
  assert.equal(link.order.length, (2 * PER_DEVICE) / Number(BATCH), 'no batch re-formed');
  await assertExactlyOnce(link, key, devices);
  await link.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the link is cut mid-batch (before and after the platform applied it)', async () => {
  const link = await PlatformLink.start();
  const { dir, key, devices } = await enrolledWithBacklog(link, 'cut');
  // 3rd batch: the platform stops before it sees the batch; 6th: it stops after applying it.
  const cut = new Set<number>();
  link.fault = (_batchId, nth) => {
    if (cut.has(nth) || link.platform === undefined || (nth !== 2 && nth !== 5)) return 'pass';
    cut.add(nth);
    return nth === 2 ? 'drop-request' : 'drop-response';
  };
  link.onFault = () => link.stopPlatform();
  const edge = new EdgeProcess(['--dir', dir, '--batch-max-messages', BATCH]);
  const failures = () => edge.logs.filter((l) => l.event === 'link-down').length;
  for (const nth of [2, 5]) {
    const before = failures();
    await until(() => link.platform === undefined && failures() > before);
    const failure = edge.logs.findLast((l) => l.event === 'link-down');
    assert.match(String(failure?.action), /Nothing is lost/);
    const status = await runCli(['status', '--dir', dir, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const view = JSON.parse(status.stdout);
    assert.match(view.link, /^down/);
    assert.equal(view.backlog, 2 * PER_DEVICE - nth * Number(BATCH));
    await link.restartPlatform();
  }
  await until(drained(dir));
  await stopGracefully(edge);
  assert.ok(edge.logs.some((l) => l.event === 'link-up'));
  assert.equal(link.answers.get(link.order[5] ?? '')?.length, 2, 'the 6th batch was resent');
  assert.equal(link.answers.get(link.order[2] ?? '')?.length, 1, 'the 3rd was applied once');
  await assertExactlyOnce(link, key, devices);
  await link.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A node enrolled through the command with one device and `count` 2 kB messages, n = 0… */
async function enrolledWithLargeBacklog(link: Link, slug: string, count: number) {
  const dir = mkdtempSync(join(tmpdir(), `edge-${slug}-`));
  const { key } = await link.api.tenant(slug);
  const node = await enrollNode(link, key, dir, `${slug}-gw`);
  const body = { name: 'd0', edgeNodeId: node.nodeId };
  const device = (await link.call('POST', '/v1/devices', key, body)).body.id as string;
  const outbox = new Outbox(outboxPath(dir), Buffer.from(node.outboxKey, 'base64'), {
    maxMessages: 10_000,
  });
  const base = Date.now() - 60_000;
  const note = 'x'.repeat(2000);
  for (let i = 0; i < count; i++) outbox.accept(device, { ts: base + i, values: { n: i, note } });
  return { dir, key, device, node, outbox };
}

/** Messages the platform applied over every distinct batch id (a point applied twice at one ts would not show in the values). */
function appliedTotal(link: Link): number {
  let applied = 0;
  for (const bodies of link.answers.values()) {
    const ok = bodies.find((b) => JSON.parse(b).applied !== undefined);
    if (ok !== undefined) applied += JSON.parse(ok).applied as number;
  }
  return applied;
}

async function cleanUp(link: Link, outbox: Outbox, dir: string): Promise<void> {
  outbox.close();
  await link.close();
  rmSync(dir, { recursive: true, force: true });
}

/** Runs `loop.syncOnce()` until the outbox is empty or `attempts` ran out; the errors it threw. */
async function syncAll(loop: SyncLoop, outbox: Outbox, attempts: number): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (let i = 0; i < attempts && outbox.size() > 0; i++)
    await loop.syncOnce().catch((error: unknown) => errors.push(error));
  return errors;
}

const SMALL_LIMIT = 16 * 1024;
const QUICK = { ...DEFAULT_SYNC, batchMaxMessages: 10, backoffBaseMs: 1, backoffMaxMs: 5 };

test('a batch applied with its answer lost, then refused 413 (limit lowered): never re-formed under new ids', async (t) => {
  const link = await PlatformLink.start();
  const { dir, key, device, node, outbox } = await enrolledWithLargeBacklog(link, 'limit', 20);
  t.after(() => cleanUp(link, outbox, dir));
  // The first batch (about 25 kB) is applied, its answer lost; meanwhile the platform is
  // restarted with a body limit under that batch's size.
  link.fault = (batchId, nth) =>
    nth === 0 && !link.answers.has(batchId) ? 'drop-response' : 'pass';
  link.onFault = async () => {
    await link.stopPlatform();
    link.platform = await startPlatform(
      { ...link.api.fixture.settings, bodyLimit: SMALL_LIMIT },
      { listen: false },
    );
  };
  const loop = new SyncLoop(outbox, node, QUICK);
  const errors = await syncAll(loop, outbox, 6);
  assert.ok(errors.length > 0);
  const first = link.order[0] ?? '';
  assert.equal(appliedTotal(link), 10, 'only the first batch was applied, once');
  // The refusal says what to do; the batch waits, unchanged, until the limit is raised.
  const last = errors.at(-1) as PlatformRefusedError;
  assert.equal(last.status, 413);
  assert.match(last.message, /may already have been applied/);
  assert.equal(link.order.length, 1, 'the first batch was never split into new ones');
  await link.stopPlatform();
  await link.restartPlatform();
  assert.deepEqual(await syncAll(loop, outbox, 10), []);
  const applied = (link.answers.get(first) ?? []).filter(
    (b) => JSON.parse(b).applied !== undefined,
  );
  assert.equal(applied.length, 2, 'the first batch was resent unchanged, answered as applied');
  assert.equal(applied[1], applied[0]);
  assert.deepEqual(
    await link.values(key, device),
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.equal(appliedTotal(link), 20, 'every message applied exactly once');
});

test('a batch that never left the node (link down) is still formed again smaller after a 413', async (t) => {
  const link = await PlatformLink.start();
  const { dir, key, device, node, outbox } = await enrolledWithLargeBacklog(link, 'offline', 20);
  t.after(() => cleanUp(link, outbox, dir));
  const settings = link.api.fixture.settings;
  await link.stopPlatform();
  link.platform = await startPlatform({ ...settings, bodyLimit: SMALL_LIMIT }, { listen: false });
  // Offline first: the batch is formed, but every send fails before its body leaves.
  const offline = new SyncLoop(outbox, { ...node, url: 'http://127.0.0.1:1' }, QUICK);
  assert.equal((await syncAll(offline, outbox, 2)).length, 2);
  const loop = new SyncLoop(outbox, node, QUICK);
  const errors = await syncAll(loop, outbox, 20);
  assert.equal(outbox.size(), 0, `still waiting after ${errors.length} refusals`);
  assert.ok(errors.every((error) => (error as PlatformRefusedError).status === 413));
  assert.deepEqual(
    await link.values(key, device),
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.equal(appliedTotal(link), 20, 'every message applied exactly once');
});
