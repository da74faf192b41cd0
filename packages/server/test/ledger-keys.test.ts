/** The platform's ledger signing key file: made once, durably, and read back the same. */
import assert from 'node:assert/strict';
import fs, { mkdtempSync, rmSync, statSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadLedgerKeys } from '../src/ledger/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'palisade-ledger-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a new key file is flushed to disk before its keys sign anything', (t) => {
  // Checkpoints signed with the keys are committed durably; losing the file would orphan them.
  const fsync = t.mock.method(fs, 'fsyncSync');
  syncBuiltinESMExports();
  t.after(() => {
    fsync.mock.restore();
    syncBuiltinESMExports();
  });
  const path = join(dir, 'ledger-keys.json');
  const made = loadLedgerKeys(path, 'palisade.test/keys');
  assert.equal(made.generated, true);
  assert.equal(fsync.mock.callCount(), 1);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const again = loadLedgerKeys(path, 'palisade.test/keys');
  assert.equal(again.generated, false);
  assert.deepEqual(again.keys.vkeys, made.keys.vkeys);
});
