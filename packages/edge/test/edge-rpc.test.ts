import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type EdgeRpcRequest, RpcRelay, SqliteRpcJournal } from '../src/rpc/index.ts';

const T0 = 1_700_000_000_000;

function request(id: number, deviceId: string, ttlMs: number): EdgeRpcRequest {
  return {
    requestId: `0190a8f0-0000-7000-8000-00000000000${id}`,
    deviceId,
    method: 'open',
    params: { id },
    expiresAt: new Date(T0 + ttlMs).toISOString(),
  };
}

/** A relay on a clock the test moves, with devices that are connected or not. */
function relay() {
  let now = T0;
  const connected = new Set<string>();
  const sent: [string, string, unknown][] = [];
  const events: string[] = [];
  const r = new RpcRelay({
    now: () => now,
    events: {
      received: (q) => events.push(`received ${q.requestId.slice(-1)}`),
      delivered: (q) => events.push(`delivered ${q.requestId.slice(-1)}`),
      answered: (a) => events.push(`answered ${a.requestId.slice(-1)}`),
      expired: (q, delivered) => events.push(`expired ${q.requestId.slice(-1)} ${delivered}`),
    },
  });
  r.connect(async (deviceId, requestId, body) => {
    if (!connected.has(deviceId)) return false;
    sent.push([deviceId, requestId, body]);
    return true;
  });
  return { r, connected, sent, events, tick: (ms: number) => (now += ms) };
}

describe('the edge RPC relay', () => {
  test('holds a request until its device is there, delivers it once, relays its answer', async () => {
    const { r, connected, sent, events } = relay();
    const q = request(1, 'd1', 10_000);
    await r.receive([q]);
    assert.deepEqual(sent, []);
    connected.add('d1');
    await r.retry();
    await r.receive([q]);
    await r.retry();
    assert.deepEqual(sent, [['d1', q.requestId, { method: 'open', params: { id: 1 } }]]);
    assert.equal(r.respond('d1', q.requestId, { ok: true }), true);
    assert.deepEqual(r.takeAnswers(), [
      { requestId: q.requestId, deviceId: 'd1', response: { ok: true } },
    ]);
    assert.equal(r.respond('d1', q.requestId, 'again'), false, 'answered once');
    await r.receive([q]);
    assert.equal(sent.length, 1, 'a request handed out again is not delivered again');
    assert.deepEqual(events, ['received 1', 'delivered 1', 'answered 1']);
  });

  test('a connection failing mid-send leaves the request held for the next try', async () => {
    const r = new RpcRelay({ now: () => T0 });
    let fail = true;
    const sent: string[] = [];
    r.connect(async (_device, requestId) => {
      if (fail) throw new Error('connection reset');
      sent.push(requestId);
      return true;
    });
    const q = request(7, 'd1', 10_000);
    await r.receive([q]);
    fail = false;
    await r.retry();
    assert.deepEqual(sent, [q.requestId]);
  });

  test('an answer that comes before the send has resolved is taken, and sent once', async () => {
    const r = new RpcRelay({ now: () => T0 });
    const q = request(10, 'd1', 10_000);
    let delivered = 0;
    r.connect(async (deviceId, requestId) => {
      delivered++;
      assert.equal(r.respond(deviceId, requestId, 'quick'), true);
      return true;
    });
    await Promise.all([r.receive([q]), r.retry(), r.retry()]);
    assert.equal(delivered, 1, 'concurrent retries deliver it once');
    assert.deepEqual(r.takeAnswers(), [
      { requestId: q.requestId, deviceId: 'd1', response: 'quick' },
    ]);
    assert.equal(r.pending, 0);
  });

  test('a device cannot answer a request of another device', async () => {
    const { r, connected } = relay();
    connected.add('d1');
    const q = request(2, 'd1', 10_000);
    await r.receive([q]);
    assert.equal(r.respond('d2', q.requestId, 'forged'), false);
    assert.deepEqual(r.takeAnswers(), []);
    assert.equal(r.pending, 1);
  });

  test('the deadline holds at the edge: undelivered or unanswered requests expire', async () => {
    const { r, connected, sent, events, tick } = relay();
    const late = request(3, 'd1', 1000);
    const slow = request(4, 'd2', 1000);
    connected.add('d2');
    await r.receive([late, slow]);
    tick(1000);
    connected.add('d1');
    await r.retry();
    assert.deepEqual(
      sent.map((s) => s[1]),
      [slow.requestId],
      'never delivered after the deadline',
    );
    assert.equal(r.respond('d2', slow.requestId, 'too late'), false);
    assert.deepEqual(r.takeAnswers(), []);
    assert.equal(r.pending, 0);
    assert.deepEqual(events.filter((e) => e.startsWith('expired')).sort(), [
      'expired 3 false',
      'expired 4 true',
    ]);
  });

  test('answers that could not be sent are kept, in order, for the next send', async () => {
    const { r, connected } = relay();
    connected.add('d1');
    const [a, b] = [request(5, 'd1', 10_000), request(6, 'd1', 10_000)];
    await r.receive([a, b]);
    r.respond('d1', a.requestId, 'a');
    const taken = r.takeAnswers();
    r.respond('d1', b.requestId, 'b');
    r.restore(taken);
    assert.deepEqual(
      r.takeAnswers().map((x) => x.response),
      ['a', 'b'],
    );
  });

  test('with a journal, held and delivered requests survive a restart, sealed on disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-rpc-journal-'));
    const key = randomBytes(32);
    const path = join(dir, 'rpc.db');
    try {
      const held = request(8, 'd1', 10_000);
      const delivered = request(9, 'd2', 10_000);
      const first = new SqliteRpcJournal(path, key);
      const before = new RpcRelay({ journal: first, now: () => T0 });
      before.connect(async (deviceId) => deviceId === 'd2');
      await before.receive([held, delivered]);
      first.close();
      assert.ok(!readFileSync(path).includes('open'), 'no method in clear on disk');
      const second = new SqliteRpcJournal(path, key);
      const after = new RpcRelay({ journal: second, now: () => T0 });
      assert.equal(after.pending, 2);
      assert.equal(after.respond('d2', delivered.requestId, 'done'), true, 'the answer is taken');
      const sent: string[] = [];
      after.connect(async (_device, requestId) => {
        sent.push(requestId);
        return true;
      });
      await after.retry();
      assert.deepEqual(sent, [held.requestId], 'delivered once, after the restart');
      second.close();
      const third = new SqliteRpcJournal(path, key);
      assert.deepEqual(
        third.load().map((r) => [r.request.requestId, r.state]),
        [[held.requestId, 'delivered']],
      );
      third.close();
      assert.throws(
        () => new SqliteRpcJournal(path, randomBytes(32)).load(),
        'another key opens nothing',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
