/**
 * The ledger signing key against the platform log: once the log holds checkpoints, a start
 * without the key file, or with another key, is refused instead of making a key that breaks
 * every auditor's pinned one; `palisade keys new-ledger-key` (replaceLedgerKey) replaces a lost
 * key and leaves the change in the platform log.
 */
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  fromBase64,
  openNote,
  parseCheckpoint,
  parseNote,
  verifyConsistency,
} from '@palisade/ledger';
import { nodeHasher } from '@palisade/ledger/node';
import { ConfigError, replaceLedgerKey, type Settings, startPlatform } from '../src/index.ts';
import { ledgerKeyFile, loadLedgerKeys } from '../src/ledger/index.ts';
import { type LedgerKeyChange, openStores } from '../src/store/index.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/** Starts, writes a record as `key`, seals, and returns the latest platform checkpoint. */
async function writeAndSeal(settings: Settings, key: string) {
  const platform = await startPlatform(settings, { listen: false });
  try {
    const reply = await platform.http.inject({
      method: 'POST',
      url: '/v1/collections/notes/records',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ text: 'hello' }),
    });
    assert.equal(reply.statusCode, 201);
    await platform.sealer.seal();
    return (await platform.stores.platformLog.latestCheckpoint())!;
  } finally {
    await platform.close();
  }
}

/** The error a start fails with; a start that succeeds is closed and fails the test. */
async function startError(settings: Settings): Promise<unknown> {
  let platform: Awaited<ReturnType<typeof startPlatform>>;
  try {
    platform = await startPlatform(settings, { listen: false });
  } catch (error) {
    return error;
  }
  await platform.close();
  return assert.fail('the platform started');
}

for (const backend of backendNames()) {
  describe(`ledger signing key on ${backend}`, () => {
    test('a log with checkpoints starts only with the key that signed them', async () => {
      const api = await TestApi.start(backend);
      const settings = api.fixture.settings;
      const t = await api.tenant('acme');
      await api.call('PUT', '/v1/collections/notes', t.key, { schema: { type: 'object' } });
      await api.platform.sealer.seal();
      const first = (await api.platform.stores.platformLog.latestCheckpoint())!;
      assert.ok(first !== undefined, 'the log holds a checkpoint');
      await api.platform.close();
      const file = ledgerKeyFile(settings);
      const oldKeys = loadLedgerKeys(file, undefined).keys;
      const right = readFileSync(file, 'utf8');

      // A data folder moved or restored without its key file: no new key is made for it.
      rmSync(file);
      const missing = await startError(settings);
      assert.ok(missing instanceof ConfigError, String(missing));
      assert.equal(missing.code, 'PALISADE_CONFIG_INVALID');
      assert.match(missing.message, /ledger-signing\.json is missing/);
      assert.match(missing.message, /palisade keys new-ledger-key/);
      assert.equal(existsSync(file), false, 'no key file was generated');

      // Another installation's key file: refused too.
      const elsewhere = mkdtempSync(join(tmpdir(), 'palisade-other-ledger-key-'));
      try {
        loadLedgerKeys(join(elsewhere, 'key.json'), undefined);
        copyFileSync(join(elsewhere, 'key.json'), file);
      } finally {
        rmSync(elsewhere, { recursive: true, force: true });
      }
      const other = await startError(settings);
      assert.ok(other instanceof ConfigError, String(other));
      assert.match(other.message, /did not sign this platform/);

      writeFileSync(file, right, { mode: 0o600 });
      const again = await writeAndSeal(settings, t.key);
      assert.ok(again.size > first.size);
      await openNote(again.note, oldKeys.verifiers);
      await api.fixture.cleanup();
    });

    test('new-ledger-key replaces a lost key and records the change in the platform log', async () => {
      const api = await TestApi.start(backend);
      const settings = api.fixture.settings;
      const t = await api.tenant('acme');
      await api.call('PUT', '/v1/collections/notes', t.key, { schema: { type: 'object' } });
      await api.platform.sealer.seal();
      const before = (await api.platform.stores.platformLog.latestCheckpoint())!;
      await api.platform.close();
      const file = ledgerKeyFile(settings);
      const oldKeys = loadLedgerKeys(file, undefined).keys;

      // A key that is not lost is not replaced.
      await assert.rejects(
        replaceLedgerKey(settings),
        (e) => e instanceof ConfigError && e.message.includes('move it aside'),
      );
      rmSync(file);
      const made = await replaceLedgerKey(settings);
      assert.equal(made.recordedAt, before.size);
      assert.equal(made.origin, oldKeys.origin, 'the log keeps its origin');
      assert.notDeepEqual(made.vkeys, oldKeys.vkeys);

      const after = await writeAndSeal(settings, t.key);
      const { verifiers } = loadLedgerKeys(file, undefined).keys;
      await openNote(after.note, verifiers);
      await assert.rejects(openNote(after.note, oldKeys.verifiers));

      const stores = await openStores(settings);
      let stored: LedgerKeyChange[];
      try {
        stored = await stores.platformLog.keyChanges();
        assert.equal(stored.length, 1);
        assert.equal(stored[0]!.size, before.size);
        assert.equal(stored[0]!.previousNote, before.note);
        assert.deepEqual(stored[0]!.vkeys, made.vkeys);
      } finally {
        await stores.close();
      }

      // Served to anyone with the keys, as stored; and in the tenant's bundle with the proof
      // that the log under the new key extends the old key's last checkpoint.
      const platform = await startPlatform(settings, { listen: false });
      try {
        const keys = await platform.http.inject({ url: '/v1/platform/ledger/keys' });
        assert.equal(keys.statusCode, 200, keys.body);
        assert.deepEqual(JSON.parse(keys.body), {
          origin: made.origin,
          keys: made.vkeys,
          changes: stored.map((c) => ({ ...c })),
        });
        const exported = await platform.http.inject({
          url: '/v1/ledger/export',
          headers: { authorization: `Bearer ${t.key}` },
        });
        assert.equal(exported.statusCode, 200, exported.body);
        const bundle = JSON.parse(exported.body);
        assert.equal(bundle.platform.checkpoint, after.note);
        assert.equal(bundle.keyChanges.length, 1);
        const { proof, ...change } = bundle.keyChanges[0];
        assert.deepEqual(change, { ...stored[0] });
        const old = parseCheckpoint(parseNote(before.note).text);
        const now = parseCheckpoint(parseNote(after.note).text);
        verifyConsistency(
          nodeHasher,
          old.size,
          now.size,
          proof.map((p: string) => fromBase64(p)!),
          old.root,
          now.root,
        );
      } finally {
        await platform.close();
      }
      await api.fixture.cleanup();
    });
  });
}
