import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StreamFile } from '../src/bus/in-process/stream-file.ts';
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
