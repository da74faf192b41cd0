import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JSON_DEPTH_MAX, mayBeUnstorable, unstorable, unstorableJson } from '../src/store/index.ts';

const NUL = 'must not contain U+0000';

test('finds U+0000 in strings and keys, with an escaped JSON Pointer', () => {
  assert.equal(unstorable({ a: ['x', { b: 'ok' }], n: 1, t: true, z: null }), undefined);
  assert.deepEqual(unstorable('a\u0000'), { path: '', message: NUL });
  assert.deepEqual(unstorable({ a: ['x', { b: 'c\u0000' }] }), { path: '/a/1/b', message: NUL });
  assert.deepEqual(unstorable({ 'x/y~z\u0000': 1 }), { path: '/x~1y~0z\u0000', message: NUL });
});

test('finds numbers JSON.parse made infinite', () => {
  const parsed = JSON.parse('{"ok":1.7976931348623157e308,"list":[0,-1e400]}');
  const found = unstorable(parsed);
  assert.equal(found?.path, '/list/1');
  assert.match(found?.message ?? '', /finite/);
  assert.equal(unstorable(JSON.parse('[1e-400, 2e308]'))?.path, '/1');
});

test('finds lone surrogates in strings and keys; a pair is fine', () => {
  assert.equal(unstorable(JSON.parse('{"s":"\\ud83d\\ude42"}')), undefined);
  assert.equal(unstorable(JSON.parse('{"s":"a\\ud800"}'))?.path, '/s');
  assert.equal(unstorable(JSON.parse('{"\\udc00":1}'))?.path, '/\udc00');
  assert.match(unstorable('\udfff')?.message ?? '', /lone surrogate/);
});

test(`takes ${JSON_DEPTH_MAX} levels of nesting, not one more`, () => {
  const nested = (levels: number) =>
    JSON.parse(`${'['.repeat(levels)}1${']'.repeat(levels)}`) as unknown;
  assert.equal(unstorable(nested(JSON_DEPTH_MAX)), undefined);
  const found = unstorable(nested(JSON_DEPTH_MAX + 1));
  assert.equal(found?.path, '/0'.repeat(JSON_DEPTH_MAX));
  assert.match(found?.message ?? '', /nest deeper/);
  assert.equal(unstorable(nested(100_000))?.path, '/0'.repeat(JSON_DEPTH_MAX));
});

test('finds integers JSON.parse rounds, from the text; exact ones, decimals and strings pass', () => {
  const check = (text: string) => unstorableJson(text, JSON.parse(text));
  assert.equal(check('{"a":{"id":9007199254740993}}')?.path, '/a/id');
  assert.match(check('[-12345678901234567891]')?.message ?? '', /exactly/);
  for (const exact of [
    '{"id":9007199254740992}',
    '{"n":100000000000000000000}',
    '{"n":1e20}',
    '{"x":0.12345678901234567890}',
    '{"s":"12345678901234567890"}',
  ])
    assert.equal(check(exact), undefined, exact);
});

test('the text check never misses what the walk finds', () => {
  for (const text of [
    '"a\\u0000"',
    '{"k\\u0000":1}',
    '[1e400]',
    '"\\uD800"',
    `${'['.repeat(JSON_DEPTH_MAX + 1)}${']'.repeat(JSON_DEPTH_MAX + 1)}`,
    '[-2E+308]',
    `[${'9'.repeat(309)}]`,
    '[9007199254740993]',
  ])
    assert.equal(mayBeUnstorable(text), true, text);
  for (const text of ['{"a":"b"}', '[1e99, 1.5, -20]', '"x"'])
    assert.equal(mayBeUnstorable(text), false, text);
});
