import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isLedgerError, LEDGER_ERROR_CODES, LedgerError } from '../src/index.ts';

describe('error contract', () => {
  it('documents exactly the codes in LEDGER_ERROR_CODES, in order', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const documented = [...readme.matchAll(/^\| `(LEDGER_[A-Z_]+)`\s*\|/gm)].map((m) => m[1]);
    assert.deepEqual(documented, [...LEDGER_ERROR_CODES]);
  });

  it('uses only listed codes in the sources', () => {
    const used = new Set<string>();
    for (const file of readdirRecursive(new URL('../src/', import.meta.url))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'(LEDGER_[A-Z_]+)'/g)) used.add(m[1]!);
    }
    assert.deepEqual(
      [...used].filter((c) => !(LEDGER_ERROR_CODES as readonly string[]).includes(c)),
      [],
    );
  });

  it('carries code, message and details', () => {
    const error = new LedgerError('LEDGER_CONFLICT', 'stale', { size: 7 });
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'LedgerError');
    assert.equal(error.size, 7);
    assert.ok(isLedgerError(error, 'LEDGER_CONFLICT'));
    assert.ok(!isLedgerError(error, 'LEDGER_FORK'));
    assert.ok(!isLedgerError(new Error('x')));
  });
});

import { readdirSync } from 'node:fs';

function readdirRecursive(dir: URL): URL[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? readdirRecursive(new URL(`${d.name}/`, dir)) : [new URL(d.name, dir)],
  );
}
