import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES } from '../src/index.ts';

test('docs/errors.md documents exactly the codes the server can return, with their statuses', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Map<string, number>();
  for (const match of doc.matchAll(/^\| `(PALISADE_[A-Z_]+)` *\| (\d{3}) *\|/gm))
    documented.set(match[1]!, Number(match[2]));
  const actual = new Map(
    Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status as number]),
  );
  assert.deepEqual(Object.fromEntries(documented), Object.fromEntries(actual));
});
