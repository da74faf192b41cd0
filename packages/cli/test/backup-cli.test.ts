/**
 * `palisade backup` and `palisade restore` as users run them (the built dist, spawned): an
 * online backup of a running embedded server with its progress and summary, refusals with
 * their exit codes and what to do (a folder palisade backup did not write among them), and a
 * restore into a new data folder that a server then starts on with the master key brought
 * back by hand.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BackendFixture, openBackend } from '../../server/test/support/backends.ts';
import {
  assertBuilt,
  type CliResult,
  palisade,
  type RunningServer,
  startServer,
} from './support/palisade-process.ts';

function expectExit(result: CliResult, code: number): void {
  assert.equal(
    result.code,
    code,
    `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
  );
}

before(assertBuilt);

describe('palisade backup and restore (sqlite)', () => {
  let fixture: BackendFixture;
  let server: RunningServer;
  const scratch = mkdtempSync(join(tmpdir(), 'palisade-backup-cli-'));
  const out = join(scratch, 'backup');
  const data = () => ['--data', fixture.settings.data];

  before(async () => {
    fixture = await openBackend('sqlite');
    server = await startServer([...data(), '--listen', '127.0.0.1:0'], { expectToken: true });
    const created = await palisade(['tenant', 'create', '--slug', 'acme', '--name', 'Acme'], {
      PALISADE_URL: server.url,
      PALISADE_TOKEN: server.generatedToken!,
    });
    expectExit(created, 0);
  });
  after(async () => {
    await server?.stop('SIGKILL');
    await fixture?.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('backs a running server up, with progress, and says where the master key is', async () => {
    const result = await palisade(['backup', '--out', out, ...data()]);
    expectExit(result, 0);
    assert.match(
      result.stdout,
      /^backed up \d+ files \([\d.]+ MB\) to .*backup; tenant keys sealed under master key \S+, which is not in the backup\n$/,
    );
    assert.match(result.stderr, /backed up (\d+)\/\1 files/);
  });

  it('refuses an existing target and a PostgreSQL platform with exit 2', async () => {
    const again = await palisade(['backup', '--out', out, ...data()]);
    expectExit(again, 2);
    assert.match(again.stderr, /exists: name a new folder for the backup/);
    const scaledOut = await palisade([
      'backup',
      '--out',
      join(scratch, 'pg'),
      '--database',
      'postgres://127.0.0.1:1/x',
    ]);
    expectExit(scaledOut, 2);
    assert.match(scaledOut.stderr, /pg_dump or pg_basebackup/);
  });

  it('restores into a new data folder only, and a server starts on it with the master key', async () => {
    const occupied = await palisade(['restore', '--from', out, ...data()]);
    expectExit(occupied, 1);
    assert.match(occupied.stderr, /is not empty .*restore into a new data folder/);

    const foreign = join(scratch, 'foreign');
    cpSync(out, foreign, { recursive: true });
    writeFileSync(join(foreign, 'backup.json'), 'null');
    const refused = await palisade(['restore', '--from', foreign, '--data', join(scratch, 'x')]);
    expectExit(refused, 1);
    assert.match(refused.stderr, /^palisade: \S+ is not a manifest palisade backup wrote: .+\n$/);

    const target = join(scratch, 'restored');
    const restored = await palisade(['restore', '--from', out, '--data', target]);
    expectExit(restored, 0);
    assert.match(restored.stdout, /^restored \d+ files into /);
    assert.match(restored.stderr, /Start the server with master key \S+: its key file at /);
    copyFileSync(join(fixture.settings.data, 'master.key'), join(target, 'master.key'));
    const second = await startServer(['--data', target, '--listen', '127.0.0.1:0']);
    try {
      const health = await fetch(`${second.url}/readyz`);
      assert.equal(health.status, 200);
    } finally {
      await second.stop('SIGTERM');
    }
  });

  it('refuses to write over another key file, and keeps a master key given in the environment off the disk', async () => {
    const ledgerKey = join(scratch, 'other-ledger-key.json');
    writeFileSync(ledgerKey, '{"not":"the backup key"}\n');
    const target = join(scratch, 'restored-other-ledger-key');
    const refused = await palisade([
      'restore',
      '--from',
      out,
      '--data',
      target,
      '--ledger-key-file',
      ledgerKey,
    ]);
    expectExit(refused, 1);
    assert.match(
      refused.stderr,
      /^palisade: \S+other-ledger-key\.json \(where the settings put ledger-signing\.json\) holds another key than the backup's: a restore never overwrites a key; .+\n$/,
    );

    const masterKey = readFileSync(join(fixture.settings.data, 'master.key'), 'utf8').trim();
    const wrongKey = await palisade(['restore', '--from', out, '--data', join(scratch, 'wrong')], {
      PALISADE_MASTER_KEY: randomBytes(32).toString('hex'),
    });
    expectExit(wrongKey, 1);
    assert.match(wrongKey.stderr, /sealed under master key \S+, but PALISADE_MASTER_KEY/);

    const keyGiven = join(scratch, 'restored-key-given');
    const restored = await palisade(['restore', '--from', out, '--data', keyGiven], {
      PALISADE_MASTER_KEY: masterKey,
    });
    expectExit(restored, 0);
    assert.match(restored.stdout, /given by PALISADE_MASTER_KEY, kept off the disk\n$/);
    assert.doesNotMatch(restored.stderr, /Start the server/);
    assert.equal(existsSync(join(keyGiven, 'master.key')), false);
  });
});
