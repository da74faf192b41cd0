import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Outbox, readOutboxStatus } from '../src/index.ts';
import { outboxPath } from '../src/node-file.ts';
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
