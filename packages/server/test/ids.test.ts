import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isUuid, randomBytesFromPool, uuid7 } from '../src/ids/index.ts';

test('uuid7: RFC 9562 version 7 and variant bits, the time in front, strictly increasing', () => {
  const now = Date.now();
  const ids = Array.from({ length: 50_000 }, () => uuid7(now));
  for (const id of ids)
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(
    ids.every((id, i) => i === 0 || id > ids[i - 1]!),
    'ids made in one millisecond still sort in order',
  );
  assert.equal(new Set(ids).size, ids.length);
  const later = uuid7(now + 10_000);
  assert.ok(Number.parseInt(later.replace('-', '').slice(0, 12), 16) >= now + 10_000);
  assert.ok(isUuid(later) && !isUuid(later.toUpperCase()) && !isUuid('not-a-uuid'));
});

test('pooled random bytes are never handed out twice', () => {
  const seen = new Set<string>();
  const slices = Array.from({ length: 2_000 }, () => randomBytesFromPool(16));
  for (const slice of slices) seen.add(slice.toString('hex'));
  assert.equal(seen.size, slices.length, 'a refill must not overwrite slices already handed out');
  assert.equal(randomBytesFromPool(20_000).length, 20_000);
});
