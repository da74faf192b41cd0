import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { type ConsumerFilter, StreamFile } from '../src/bus/in-process/stream-file.ts';
import { checkEvent } from '../src/bus/subjects.ts';

/** The in-process bus's file: an append reaches consumers only once its fsync completed. */

const TENANT = '01a242d0-72e1-7000-adbf-f8a0ace2cb7b';
const ALL = { tenant: null, kind: null };

function events(...ids: string[]) {
  return ids.map((id) =>
    checkEvent('pal', TENANT, { kind: 'record', key: 'k', id, payload: { id } }, 1 << 16),
  );
}

function withFile(t: { after: (fn: () => void) => void }): { path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-stream-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { path: join(dir, 'bus.db') };
}

test('an appended message is claimable only after its append resolved', async (t) => {
  const file = new StreamFile(withFile(t).path);
  file.ensureConsumer('c', ALL);
  const durable = file.append(events('m1'), Date.now());
  assert.equal(file.claim('c', ALL, Date.now(), 30_000, 5), undefined);
  await durable;
  assert.equal(file.claim('c', ALL, Date.now(), 30_000, 5)?.id, 'm1');
  await file.close();
});

test('appends committed while an fsync runs are made durable by the next one', async (t) => {
  const file = new StreamFile(withFile(t).path);
  file.ensureConsumer('c', ALL);
  const appends = ['a', 'b', 'c', 'd'].map((id) => file.append(events(id), Date.now()));
  await Promise.all(appends);
  const claimed = [];
  for (let next = file.claim('c', ALL, Date.now(), 30_000, 5); next !== undefined; ) {
    claimed.push(next.id);
    next = file.claim('c', ALL, Date.now(), 30_000, 5);
  }
  assert.deepEqual(claimed, ['a', 'b', 'c', 'd']);
  await file.close();
});

test('close waits for the appends in flight, and a reopened file hands them out', async (t) => {
  const { path } = withFile(t);
  const first = new StreamFile(path);
  first.ensureConsumer('c', ALL);
  let resolved = false;
  const durable = first.append(events('x', 'y'), Date.now()).then(() => {
    resolved = true;
  });
  await first.close();
  assert.equal(resolved, true);
  await durable;
  const second = new StreamFile(path);
  assert.equal(second.claim('c', ALL, Date.now(), 30_000, 5)?.id, 'x');
  assert.equal(second.claim('c', ALL, Date.now(), 30_000, 5)?.id, 'y');
  await second.close();
});

test('a republished id is stored once and its append still resolves', async (t) => {
  const file = new StreamFile(withFile(t).path);
  file.ensureConsumer('c', ALL);
  await file.append(events('same'), Date.now());
  await file.append(events('same', 'other'), Date.now());
  assert.equal(file.claim('c', ALL, Date.now(), 30_000, 5)?.id, 'same');
  assert.equal(file.claim('c', ALL, Date.now(), 30_000, 5)?.id, 'other');
  assert.equal(file.claim('c', ALL, Date.now(), 30_000, 5), undefined);
  await file.close();
});

test('each filter gets exactly its messages in order, telemetry and sparse kinds alike', async (t) => {
  const other = '01a242d0-72e1-7000-adbf-f8a0ace2cb7c';
  const file = new StreamFile(withFile(t).path);
  const filters: Record<string, ConsumerFilter> = {
    all: ALL,
    telemetry: { tenant: null, kind: 'telemetry' },
    device: { tenant: null, kind: 'device' },
    mine: { tenant: TENANT, kind: null },
    myTelemetry: { tenant: TENANT, kind: 'telemetry' },
    myDevice: { tenant: TENANT, kind: 'device' },
  };
  const got = new Map(Object.keys(filters).map((name) => [name, [] as string[]]));
  const drain = (name: string, max: number) => {
    for (let i = 0; i < max; i++) {
      const message = file.claim(name, filters[name]!, Date.now(), 30_000, 5);
      if (message === undefined) return;
      got.get(name)!.push(message.id);
    }
  };
  for (const [name, filter] of Object.entries(filters)) file.ensureConsumer(name, filter);
  const sent = Array.from({ length: 40 }, (_, i) => ({
    tenant: i % 3 === 0 ? other : TENANT,
    kind: i % 7 === 3 ? ('device' as const) : ('telemetry' as const),
    id: `m${i}`,
  }));
  // In slices, each consumer taking at most one message in between: they wake with nothing
  // new for them, or fall behind and catch up.
  for (let i = 0; i < sent.length; i += 8) {
    const slice = sent.slice(i, i + 8);
    await file.append(
      slice.map((m) =>
        checkEvent('pal', m.tenant, { kind: m.kind, key: 'd', id: m.id, payload: {} }, 1 << 16),
      ),
      Date.now(),
    );
    for (const name of Object.keys(filters)) drain(name, 1);
  }
  for (const [name, filter] of Object.entries(filters)) {
    drain(name, Number.POSITIVE_INFINITY);
    const wanted = sent.filter(
      (m) =>
        (filter.tenant === null || m.tenant === filter.tenant) &&
        (filter.kind === null || m.kind === filter.kind),
    );
    assert.ok(wanted.length > 0, name);
    assert.deepEqual(
      got.get(name),
      wanted.map((m) => m.id),
      name,
    );
  }
  await file.close();
});

test('a message whose fsync failed is handed out once a retried append of it is durable', async (t) => {
  const { path } = withFile(t);
  const file = new StreamFile(path);
  file.ensureConsumer('c', ALL);
  // The WAL's next fsync fails once (an I/O error); the commit itself stands.
  const probe = await open(path, 'r');
  const prototype = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
  await probe.close();
  const sync = prototype.sync;
  let fail = true;
  prototype.sync = function (this: unknown) {
    if (!fail) return sync.call(this);
    fail = false;
    return Promise.reject(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
  };
  t.after(() => {
    prototype.sync = sync;
  });
  await assert.rejects(file.append(events('m1'), Date.now()), /EIO/);
  // The publisher retries with the same id: stored once, and now durable.
  await file.append(events('m1'), Date.now());
  assert.equal(file.claim('c', ALL, Date.now(), 30_000, 5)?.id, 'm1');
  await file.close();
});

test("erasing a tenant's many messages deletes them in batches, letting the event loop run in between", async (t) => {
  const { path } = withFile(t);
  const file = new StreamFile(path);
  const other = '01a242d0-72e1-7000-adbf-f8a0ace2cb7c';
  file.ensureConsumer('all', ALL);
  file.ensureConsumer('mine', { tenant: TENANT, kind: null });
  const ids = Array.from({ length: 20_000 }, (_, i) => `m${i}`);
  await file.append(events(...ids), Date.now());
  await file.append(
    [checkEvent('pal', other, { kind: 'record', key: 'k', id: 'kept', payload: {} }, 1 << 16)],
    Date.now(),
  );
  assert.equal(file.claim('mine', { tenant: TENANT, kind: null }, Date.now(), 30_000, 5)?.id, 'm0');
  assert.equal(file.claim('all', ALL, Date.now(), 30_000, 5)?.id, 'm0');
  let done = false;
  let firedDuring = false;
  const timer = setTimeout(() => {
    firedDuring = !done;
  }, 0);
  await file.eraseTenant(TENANT);
  done = true;
  clearTimeout(timer);
  assert.ok(firedDuring, 'a timer fired while the erasure ran');
  await file.close();
  const db = new DatabaseSync(path, { readOnly: true });
  t.after(() => db.close());
  const count = (sql: string, ...params: string[]) =>
    (db.prepare(sql).get(...params) as { n: number }).n;
  assert.equal(count('SELECT count(*) AS n FROM messages WHERE tenant = ?', TENANT), 0);
  assert.equal(count('SELECT count(*) AS n FROM messages WHERE tenant = ?', other), 1);
  assert.equal(count('SELECT count(*) AS n FROM pending'), 0);
  assert.equal(count("SELECT count(*) AS n FROM consumers WHERE name = 'mine'"), 0);
});
