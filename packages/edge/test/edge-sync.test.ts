import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { type TestContext, test } from 'node:test';
import { TestApi } from '../../server/test/support/api.ts';
import { freePort } from '../../server/test/support/free-port.ts';
import { DEFAULT_SYNC, Outbox, OutboxFullError, SyncLoop } from '../src/index.ts';
import type { PlatformRefusedError } from '../src/platform-call.ts';

/** A tenant with an edge node enrolled with `api` listening on `port`, and its device `d1`. */
async function enrolledNode(api: TestApi, port: number) {
  const key = (await api.tenant('edge')).key;
  const token = await api.call('POST', '/v1/edge-nodes/enrollment-tokens', key, { name: 'gw' });
  const ed = generateKeyPairSync('ed25519');
  const ml = generateKeyPairSync('ml-dsa-65' as 'ed25519');
  const spki = (k: typeof ed.publicKey) =>
    k.export({ format: 'der', type: 'spki' }).toString('base64');
  const enrolled = await api.call('POST', '/v1/edge/enroll', undefined, {
    token: token.body.token,
    ed25519: spki(ed.publicKey),
    mldsa65: spki(ml.publicKey),
  });
  const device = (
    await api.call('POST', '/v1/devices', key, { name: 'd1', edgeNodeId: enrolled.body.nodeId })
  ).body.id;
  const pem = (k: typeof ed.privateKey) => k.export({ format: 'pem', type: 'pkcs8' }).toString();
  const node = {
    url: `http://127.0.0.1:${port}`,
    nodeId: enrolled.body.nodeId,
    credential: enrolled.body.credential,
    ed25519: pem(ed.privateKey),
    mldsa65: pem(ml.privateKey),
  };
  return { key, device, node };
}

/**
 * A platform listening on a free port (with `overrides`), its tenant's device `d1`, a node
 * enrolled with it and an empty outbox in a temporary folder; all removed when the test ends.
 */
async function edgeAndPlatform(t: TestContext, overrides: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'edge-sync-'));
  const port = await freePort();
  const api = await TestApi.start('sqlite', { listen: `127.0.0.1:${port}`, ...overrides });
  await api.http.listen({ host: '127.0.0.1', port });
  const outbox = new Outbox(join(dir, 'outbox.db'), randomBytes(32), { maxMessages: 10_000 });
  t.after(async () => {
    outbox.close();
    await api.platform.close();
    await api.fixture.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  return { api, outbox, ...(await enrolledNode(api, port)) };
}

/** The values of key `n` the platform stored for `device` since `base`, in order. */
async function storedValues(
  http: TestApi['http'],
  key: string,
  device: string,
  base: number,
): Promise<number[]> {
  const reply = await http.inject({
    method: 'GET',
    url: `/v1/devices/${device}/telemetry?keys=n&from=0&to=${base + 1000}&limit=1000`,
    headers: { authorization: `Bearer ${key}` },
  });
  return (JSON.parse(reply.body).n as { value: number }[]).map((p) => p.value);
}

test('the outbox refuses with a reason when full and never drops', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-full-'));
  const outbox = new Outbox(join(dir, 'outbox.db'), randomBytes(32), { maxMessages: 2 });
  outbox.accept('d', { n: 1 });
  outbox.accept('d', { n: 2 });
  assert.throws(() => outbox.accept('d', { n: 3 }), OutboxFullError);
  assert.equal(outbox.size(), 2);
  outbox.close();
  rmSync(dir, { recursive: true, force: true });
});

test('platform down then up: every accepted message arrives exactly once, in order', async (t) => {
  const { api, outbox, key, device, node } = await edgeAndPlatform(t);
  // The platform stops (its stores stay); the edge keeps accepting.
  const settings = api.fixture.settings;
  await api.platform.close();
  const base = Date.now() - 10_000;
  for (let i = 0; i < 250; i++) outbox.accept(device, { ts: base + i, values: { n: i } });
  const loop = new SyncLoop(outbox, node, {
    batchMaxMessages: 40,
    backoffBaseMs: 20,
    backoffMaxMs: 100,
    idleMs: 20,
  });
  await assert.rejects(loop.syncOnce(), 'the link is down');
  const running = loop.run();
  const { startPlatform } = await import('../../server/src/index.ts');
  const platform = await startPlatform(settings, { listen: true });
  while (outbox.size() > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  loop.stop();
  await running;
  assert.deepEqual(
    await storedValues(platform.http, key, device, base),
    Array.from({ length: 250 }, (_, i) => i),
  );
  await platform.close();
});

test("a backlog of large messages drains in batches under the platform's body limit", async (t) => {
  const { api, outbox, key, device, node } = await edgeAndPlatform(t);
  const base = Date.now() - 10_000;
  // 600 messages of 2 kB: under the default 1,000 messages a batch, over 1 MiB together.
  const note = 'x'.repeat(2000);
  for (let i = 0; i < 600; i++) outbox.accept(device, { ts: base + i, values: { n: i, note } });
  const loop = new SyncLoop(outbox, node, DEFAULT_SYNC);
  while (outbox.size() > 0) assert.equal(await loop.syncOnce(), true);
  assert.deepEqual(
    await storedValues(api.http, key, device, base),
    Array.from({ length: 600 }, (_, i) => i),
  );
});

/** Syncs until the outbox is empty, which takes some 413 refusals and nothing else. */
async function drainThrough413s(outbox: Outbox, loop: SyncLoop): Promise<void> {
  const refusals: number[] = [];
  for (let attempt = 0; outbox.size() > 0 && attempt < 20; attempt++)
    await loop.syncOnce().catch((error: unknown) => {
      refusals.push((error as PlatformRefusedError).status);
    });
  assert.equal(outbox.size(), 0, `still waiting after refusals ${refusals.join(', ')}`);
  assert.ok(refusals.length > 0 && refusals.every((status) => status === 413));
}

test("batches the platform's body limit refuses (413) are formed again smaller, in order", async (t) => {
  const { api, outbox, key, device, node } = await edgeAndPlatform(t, {
    bodyLimit: String(64 * 1024),
  });
  const base = Date.now() - 10_000;
  const note = 'x'.repeat(2000);
  for (let i = 0; i < 200; i++) outbox.accept(device, { ts: base + i, values: { n: i, note } });
  await drainThrough413s(
    outbox,
    new SyncLoop(outbox, node, { ...DEFAULT_SYNC, batchMaxMessages: 150 }),
  );
  assert.deepEqual(
    await storedValues(api.http, key, device, base),
    Array.from({ length: 200 }, (_, i) => i),
  );
});

test('a single message over the body limit is set aside, not resent in front of the rest', async (t) => {
  const { api, outbox, key, device, node } = await edgeAndPlatform(t, {
    bodyLimit: String(64 * 1024),
  });
  const base = Date.now() - 10_000;
  outbox.accept(device, { ts: base, values: { n: 0 } });
  outbox.accept(device, { ts: base + 1, values: { n: 1, note: 'x'.repeat(100_000) } });
  for (let i = 2; i < 5; i++) outbox.accept(device, { ts: base + i, values: { n: i } });
  const loop = new SyncLoop(outbox, node, DEFAULT_SYNC);
  const refusals: number[] = [];
  for (let attempt = 0; outbox.waiting() > 0 && attempt < 20; attempt++)
    await loop.syncOnce().catch((error: unknown) => {
      refusals.push((error as PlatformRefusedError).status);
    });
  assert.equal(outbox.waiting(), 0, `still waiting after refusals ${refusals.join(', ')}`);
  assert.deepEqual(await storedValues(api.http, key, device, base), [0, 2, 3, 4]);
  const [aside, ...more] = outbox.quarantine.list();
  assert.deepEqual(more, []);
  assert.equal(aside?.messages, 1);
  assert.equal(aside?.refusal.status, 413);
  assert.equal(aside?.refusal.code, 'PALISADE_PAYLOAD_TOO_LARGE');
});

test("batches with more messages than the platform's edgeBatchMaxMessages are formed again smaller", async (t) => {
  const { api, outbox, key, device, node } = await edgeAndPlatform(t, {
    edgeBatchMaxMessages: '40',
  });
  const base = Date.now() - 10_000;
  for (let i = 0; i < 100; i++) outbox.accept(device, { ts: base + i, values: { n: i } });
  await drainThrough413s(
    outbox,
    new SyncLoop(outbox, node, { ...DEFAULT_SYNC, batchMaxMessages: 100 }),
  );
  assert.deepEqual(
    await storedValues(api.http, key, device, base),
    Array.from({ length: 100 }, (_, i) => i),
  );
});

test('batches an outbox of an earlier version formed count as sent: never formed again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-old-'));
  const path = join(dir, 'outbox.db');
  const old = new DatabaseSync(path);
  old.exec('CREATE TABLE batches (id TEXT PRIMARY KEY, created_at TEXT NOT NULL) STRICT');
  old.exec("INSERT INTO batches VALUES ('formed-before', '2020-01-01T00:00:00.000Z')");
  old.close();
  const outbox = new Outbox(path, randomBytes(32), { maxMessages: 10 });
  assert.equal(outbox.sending('formed-before'), true, 'it may have been sent');
  outbox.accept('d', { n: 1 });
  const fresh = outbox.nextBatch(10, () => 'fresh', new Set(['formed-before']));
  assert.equal(fresh?.batchId, 'fresh');
  assert.equal(outbox.sending('fresh'), false, 'a batch formed now was never sent');
  assert.equal(outbox.sending('fresh'), true);
  outbox.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a node whose clock is minutes off the platform's is told, once while it lasts", async (t) => {
  const { outbox, device, node } = await edgeAndPlatform(t);
  // In front of the platform, a proxy whose Date header is the platform's clock ten minutes on.
  const proxy = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      const answer = await fetch(new URL(request.url!, node.url), {
        method: request.method!,
        headers: {
          authorization: request.headers.authorization!,
          'content-type': 'application/json',
        },
        body: Buffer.concat(chunks),
      });
      response.writeHead(answer.status, {
        'content-type': 'application/json',
        date: new Date(Date.now() + 600_000).toUTCString(),
      });
      response.end(await answer.text());
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
  t.after(() => proxy.close());
  const base = Date.now() - 10_000;
  for (let i = 0; i < 3; i++) outbox.accept(device, { ts: base + i, values: { n: i } });
  const offsets: number[] = [];
  const loop = new SyncLoop(
    outbox,
    { ...node, url: `http://127.0.0.1:${port}` },
    { ...DEFAULT_SYNC, batchMaxMessages: 1 },
    { clockSkew: (offset) => offsets.push(offset) },
  );
  while (await loop.syncOnce());
  assert.equal(outbox.size(), 0);
  assert.equal(offsets.length, 1, 'told once, not at every batch');
  assert.ok(offsets[0]! > 590_000 && offsets[0]! < 610_000, String(offsets[0]));
});
