import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupCommitter, type WriteEvent } from '../src/commit/index.ts';
import { PalisadeError } from '../src/errors/index.ts';
import type { TenantStore, TenantWriteTx } from '../src/store/index.ts';

/** A store whose transactions log what committed; the committer under test is the real one. */
function recordingStore(tenantId = 't') {
  const committed: string[][] = [];
  let failNext = 0;
  const store: TenantStore = {
    tenantId,
    reader: undefined as never,
    async transaction<T>(work: (tx: TenantWriteTx) => Promise<T>): Promise<T> {
      const writes: string[] = [];
      const tx = {
        insertRecord: async (row: { id: string }) => void writes.push(row.id),
        writeCount: () => writes.length,
      } as unknown as TenantWriteTx;
      const result = await work(tx);
      if (failNext > 0 && writes.length > 1) {
        failNext -= 1;
        throw new Error('deadlock');
      }
      committed.push(writes);
      return result;
    },
  };
  return {
    store,
    committed,
    failBatchOnce: () => {
      failNext = 1;
    },
  };
}

const insert = (id: string) => async (tx: TenantWriteTx, record: (e: WriteEvent) => void) => {
  await tx.insertRecord({ id } as never);
  record({ actor: 'a', action: 'record.create', resource: id, state: {} });
  return id;
};

test('concurrent writes of one tenant share one transaction and one sealed batch', async () => {
  const { store, committed } = recordingStore();
  const sealed: number[] = [];
  const committer = new GroupCommitter({
    maxBatch: 100,
    maxWaitMs: 0,
    seal: async (_tx, _tenant, events) => void sealed.push(events.length),
  });
  const ids = await Promise.all(
    Array.from({ length: 50 }, (_, i) => committer.submit(store, insert(`r${i}`))),
  );
  assert.equal(ids.length, 50);
  assert.deepEqual(committed, [ids]);
  assert.deepEqual(sealed, [50]);
});

test('submitRecorded tells each write the ledger seqs its own events became', async () => {
  const { store } = recordingStore();
  let next = 40;
  const sealed: string[][] = [];
  const committer = new GroupCommitter({
    maxBatch: 100,
    maxWaitMs: 0,
    seal: async (_tx, _tenant, events) => {
      sealed.push(events.map((e) => e.resource));
      const first = next;
      next += events.length;
      return first;
    },
  });
  const twice = async (tx: TenantWriteTx, record: (e: WriteEvent) => void) => {
    await insert('c')(tx, record);
    record({ actor: 'a', action: 'record.update', resource: 'c', state: {} });
    return 'c';
  };
  const refusing = async (_tx: TenantWriteTx, record: (e: WriteEvent) => void) => {
    record({ actor: 'a', action: 'x', resource: 'refused', state: null });
    throw new PalisadeError('PALISADE_PRECONDITION_FAILED', 'stale');
  };
  const [a, refused, plain, c] = await Promise.allSettled([
    committer.submitRecorded(store, insert('a')),
    committer.submitRecorded(store, refusing),
    committer.submit(store, insert('b')),
    committer.submitRecorded(store, twice),
  ]);
  assert.deepEqual(sealed, [['a', 'b', 'c', 'c']]);
  assert.deepEqual(a, { status: 'fulfilled', value: { value: 'a', entries: [40] } });
  assert.equal(refused.status, 'rejected');
  assert.deepEqual(plain, { status: 'fulfilled', value: 'b' });
  assert.deepEqual(c, { status: 'fulfilled', value: { value: 'c', entries: [42, 43] } });
});

test('batches are bounded by maxBatch', async () => {
  const { store, committed } = recordingStore();
  const committer = new GroupCommitter({ maxBatch: 8, maxWaitMs: 0, seal: async () => undefined });
  await Promise.all(Array.from({ length: 20 }, (_, i) => committer.submit(store, insert(`r${i}`))));
  assert.deepEqual(
    committed.map((b) => b.length),
    [8, 8, 4],
  );
});

test('a refusal fails only its caller and records none of its events', async () => {
  const { store, committed } = recordingStore();
  const sealed: WriteEvent[][] = [];
  const committer = new GroupCommitter({
    maxBatch: 100,
    maxWaitMs: 0,
    seal: async (_tx, _tenant, events) => void sealed.push([...events]),
  });
  const refusing = async (_tx: TenantWriteTx, record: (e: WriteEvent) => void) => {
    record({ actor: 'a', action: 'x', resource: 'refused', state: null });
    throw new PalisadeError('PALISADE_PRECONDITION_FAILED', 'stale');
  };
  const results = await Promise.allSettled([
    committer.submit(store, insert('a')),
    committer.submit(store, refusing),
    committer.submit(store, insert('b')),
  ]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.deepEqual(committed, [['a', 'b']]);
  assert.deepEqual(
    sealed[0]!.map((e) => e.resource),
    ['a', 'b'],
  );
});

test('a refusal after writing rolls the batch back; the others commit alone, the refusal never', async () => {
  const { store, committed } = recordingStore();
  const committer = new GroupCommitter({
    maxBatch: 100,
    maxWaitMs: 0,
    seal: async () => undefined,
  });
  const halfDone = async (tx: TenantWriteTx) => {
    await tx.insertRecord({ id: 'half' } as never);
    throw new PalisadeError('PALISADE_PRECONDITION_FAILED', 'stale');
  };
  const results = await Promise.allSettled([
    committer.submit(store, insert('a')),
    committer.submit(store, halfDone),
    committer.submit(store, insert('b')),
  ]);
  assert.deepEqual(
    results.map((r) => (r.status === 'rejected' ? (r.reason as PalisadeError).code : r.value)),
    ['a', 'PALISADE_PRECONDITION_FAILED', 'b'],
  );
  assert.deepEqual(committed, [['a'], ['b']]);
});

test('an unexpected failure rolls the batch back and retries each write alone', async () => {
  const { store, committed, failBatchOnce } = recordingStore();
  failBatchOnce();
  const committer = new GroupCommitter({
    maxBatch: 100,
    maxWaitMs: 0,
    seal: async () => undefined,
  });
  const ids = await Promise.all(['x', 'y', 'z'].map((id) => committer.submit(store, insert(id))));
  assert.deepEqual(ids, ['x', 'y', 'z']);
  assert.deepEqual(committed, [['x'], ['y'], ['z']]);
});

test('drain waits for every queued write', async () => {
  const { store, committed } = recordingStore();
  const committer = new GroupCommitter({ maxBatch: 2, maxWaitMs: 1, seal: async () => undefined });
  for (let i = 0; i < 5; i++) void committer.submit(store, insert(`r${i}`));
  await committer.drain();
  assert.equal(committed.flat().length, 5);
});

test("draining one tenant waits for its writes only, not for another tenant's", async () => {
  const a = recordingStore('a');
  const b = recordingStore('b');
  const committer = new GroupCommitter({ maxBatch: 8, maxWaitMs: 0, seal: async () => undefined });
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const slow = committer.submit(b.store, async (tx, record) => {
    await held;
    return insert('b1')(tx, record);
  });
  void committer.submit(a.store, insert('a1'));
  await committer.drain('a');
  assert.deepEqual(a.committed.flat(), ['a1'], "a's write is done");
  assert.deepEqual(b.committed.flat(), [], "b's is still held, and did not hold a's drain up");
  let bDrained = false;
  const bDrain = committer.drain('b').then(() => {
    bDrained = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(bDrained, false, "b's drain waits for b's write");
  release();
  await Promise.all([slow, bDrain]);
  assert.deepEqual(b.committed.flat(), ['b1']);
  await committer.drain('nobody');
});
