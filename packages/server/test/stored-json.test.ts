import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeStoredObjects, StoredJsonRecord, storedJson } from '../src/store/index.ts';

const FIELDS = {
  collection: 'c',
  id: '0190f5d2-7c4a-7000-8000-000000000000',
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

test('merges two stored JSON objects as a spread would, the second after the first', () => {
  const cases: [Record<string, unknown>, Record<string, unknown>][] = [
    [
      { name: 'n', ward: 'B' },
      { ssn: '123-45-6789', notes: { text: 'a,"b"}' } },
    ],
    [{}, { only: ['x', { y: null }] }],
    [{ only: true }, {}],
    [{}, {}],
    [{ same: 1, kept: 2 }, { same: 3 }],
  ];
  for (const [a, b] of cases) {
    const merged = mergeStoredObjects(JSON.stringify(a), JSON.stringify(b));
    assert.deepEqual(JSON.parse(merged), { ...a, ...b });
  }
  assert.equal(mergeStoredObjects('{"a":1}', '{"b":2}'), '{"a":1,"b":2}');
});

test('refuses text that is not a JSON object', () => {
  for (const [a, b] of [
    ['[1]', '{}'],
    ['{}', '"x"'],
    ['', '{}'],
    ['{"a":1}', ''],
  ] as const)
    assert.throws(() => mergeStoredObjects(a, b), TypeError);
});

test('a row with encrypted fields still in it has no stored JSON to send', () => {
  const sealed = { keyVersion: 1, ciphertext: 'AAAA', index: {} };
  assert.equal(storedJson(new StoredJsonRecord(FIELDS, '{"a":1}', sealed)), undefined);
  const open = new StoredJsonRecord(FIELDS, '{"a":1}');
  assert.equal(storedJson(open), '{"a":1}');
  assert.deepEqual(open.data, { a: 1 });
  assert.equal(storedJson(open), undefined, 'once data was read, it may have been changed');
});
