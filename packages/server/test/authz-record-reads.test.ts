import assert from 'node:assert/strict';
import { test } from 'node:test';
import { policySetTextToParts } from '@cedar-policy/cedar-wasm/nodejs';
import type { ResourceRef } from '../src/authz/index.ts';
import { recordIdsNamed } from '../src/authz/record-ids.ts';
import { RecordReads } from '../src/authz/record-reads.ts';

function named(text: string): string[] {
  const parts = policySetTextToParts(text);
  assert.equal(parts.type, 'success');
  return [...recordIdsNamed(parts.type === 'success' ? parts.policies : [])].sort();
}

test('the records a policy set names: in scopes, conditions and sets, however spaced', () => {
  assert.deepEqual(
    named(`permit (principal, action, resource);
forbid (principal, action, resource == Palisade::Record::"a");
forbid (principal, action, resource in Palisade::Record::"b");
forbid (principal, action, resource) when { resource in [Palisade :: Record :: "c", Palisade::Device::"d"] };
forbid (principal, action, resource) unless { resource != Palisade::Record::"e" };`),
    ['a', 'b', 'c', 'e'],
  );
  assert.deepEqual(
    named(`permit (principal, action, resource) when { resource.collection == "Palisade::Record" };
forbid (principal, action, resource is Palisade::Record) when { resource.collection == "payroll" };
forbid (principal, action, resource == Palisade::Device::"x");`),
    [],
    'a policy on collections, kinds and other types names no record',
  );
});

/** The id RecordReads decides the records no policy names on, while the policies name none. */
const UNNAMED = '00000000-0000-0000-0000-000000000000';

/** RecordReads over a decision that counts its calls and allows what `allow` says. */
function counted(named: string[], allow: (resource: ResourceRef) => boolean) {
  const asked: string[] = [];
  const reads = new RecordReads('t1', new Set(named), (resource) => {
    asked.push(`${resource.attributes?.collection}/${resource.id ?? '*'}`);
    return allow(resource);
  });
  return { reads, asked };
}

test('no policy names a record: one decision per collection, whatever the records', () => {
  const { reads, asked } = counted([], (r) => r.attributes?.collection !== 'payroll');
  for (let i = 0; i < 1000; i++) {
    assert.equal(reads.record('people', `p${i}`), true);
    assert.equal(reads.record('payroll', `s${i}`), false);
  }
  assert.equal(reads.collection('people'), true);
  assert.deepEqual(asked, ['people/*', 'payroll/*']);
});

test('a policy names records: each named one is decided, the others share one decision', () => {
  const { reads, asked } = counted(['p7', 's1'], (r) => r.id !== 'p7');
  const readable = Array.from({ length: 100 }, (_, i) => `p${i}`).filter((id) =>
    reads.record('people', id),
  );
  assert.equal(readable.length, 99);
  assert.ok(!readable.includes('p7'));
  assert.deepEqual(asked, ['people/*', `people/${UNNAMED}`, 'people/p7']);
  assert.equal(reads.candidates('people'), undefined, 'any unnamed record is readable');
});

test('the candidates of a collection: none unlisted, the named ones when no other is readable', () => {
  const a = '0190a000-0000-7000-8000-00000000000a';
  const b = '0190a000-0000-7000-8000-00000000000b';
  const { reads, asked } = counted([a, b, '*', UNNAMED], (r) =>
    r.attributes?.collection === 'payroll' ? false : r.id === undefined || r.id === a,
  );
  assert.deepEqual(reads.candidates('payroll'), []);
  assert.deepEqual(reads.candidates('people'), [a, b, UNNAMED], 'the named record ids');
  assert.equal(reads.record('people', a), true);
  assert.equal(reads.record('people', b), false);
  assert.equal(reads.record('people', '0190a000-0000-7000-8000-0000000000ff'), false);
  assert.deepEqual(asked, [
    'payroll/*',
    'people/*',
    'people/00000000-0000-0000-0000-000000000001',
    `people/${a}`,
    `people/${b}`,
  ]);
  assert.equal(counted([], () => true).reads.candidates('people'), undefined);
});

test('a record of a collection its reader may not list is never readable', () => {
  const { reads, asked } = counted(
    ['s1'],
    (r) => r.attributes?.collection !== 'payroll' || r.id === 's1',
  );
  assert.equal(reads.record('payroll', 's1'), false);
  assert.equal(reads.collection('payroll'), false);
  assert.deepEqual(asked, ['payroll/*']);
});
