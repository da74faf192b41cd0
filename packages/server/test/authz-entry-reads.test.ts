import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EntryReads } from '../src/authz/entry-reads.ts';
import { RecordReads } from '../src/authz/record-reads.ts';

const DEVICE = '0190a000-0000-7000-8000-0000000000d1';

/** EntryReads whose every decision is recorded and allowed unless `deny` names its permission. */
function counted(deny: string[] = []) {
  const asked: string[] = [];
  const records = new RecordReads('t1', new Set(), (resource) => {
    asked.push(`records:read ${resource.attributes?.collection}/${resource.id ?? '*'}`);
    return true;
  });
  const reads = new EntryReads(records, 't1', (permission, resource) => {
    asked.push(`${permission} ${resource.id ?? '*'}`);
    return Promise.resolve(!deny.includes(permission));
  });
  return { reads, asked };
}

test("an entry is opened by its resource's read route, decided once per resource", async () => {
  const { reads, asked } = counted(['rpc:read']);
  assert.equal(await reads.opens(`devices/${DEVICE}`), true);
  assert.equal(await reads.opens(`devices/${DEVICE}/attributes`), true);
  assert.equal(await reads.opens(`devices/${DEVICE}/rpc/r1`), false);
  assert.equal(await reads.opens(`devices/${DEVICE}/rpc/r2`), false);
  assert.equal(await reads.opens(`telemetry/${DEVICE}`), true);
  assert.equal(await reads.opens('users/u1'), true);
  assert.equal(reads.opens('users/u1'), true, 'a decided resource answers at once');
  assert.equal(await reads.opens('keys/jobs/j1'), true);
  assert.equal(await reads.opens('keys'), true);
  assert.deepEqual(asked, [
    `devices:read ${DEVICE}`,
    `rpc:read ${DEVICE}`,
    `telemetry:read ${DEVICE}`,
    'users:read u1',
    'keys:read *',
  ]);
});

test('records are decided as RecordReads decides them', () => {
  const { reads, asked } = counted();
  assert.equal(reads.opens('collections/people/records/r1'), true);
  assert.equal(reads.opens('collections/people/records/r2'), true);
  assert.deepEqual(asked, ['records:read people/*']);
});

test('what no tenant route shows is never opened, what anyone may read always is', () => {
  const { reads, asked } = counted();
  for (const resource of [
    'tenant',
    'api-keys/k1',
    'provisioning-keys/p1',
    'telemetry/_retention',
    `edge-nodes/${DEVICE}/batches/b1`,
    'something/new',
  ])
    assert.equal(reads.opens(resource), false, resource);
  assert.equal(reads.opens('oidc/keys'), true);
  assert.deepEqual(asked, []);
});
