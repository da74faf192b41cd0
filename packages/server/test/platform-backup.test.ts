/**
 * `backupPlatform` / `restorePlatform`: an online backup of the embedded platform, taken while
 * records are being written, restores a platform that holds every record acknowledged before
 * the backup began (and only whole records), whose tenant ledger verifies against the
 * platform checkpoints and goes on growing; encrypted fields open with the master key, which
 * the backup holds only when asked. A restore checks the whole backup before it writes
 * anything and writes only into an empty data folder. PostgreSQL deployments are refused.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type LedgerBundle, parseVerifierKey, verifyBundle } from '@palisade/ledger';
import { nodeHasher, nodeVerifyProvider } from '@palisade/ledger/node';
import {
  BackupError,
  backupPlatform,
  restorePlatform,
  type Settings,
  startPlatform,
} from '../src/index.ts';
import { TestApi } from './support/api.ts';

const SCHEMA = {
  type: 'object',
  required: ['n'],
  properties: { n: { type: 'integer' }, secret: { type: 'string' } },
};

/** Every file under `dir`, as sorted relative paths. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

/** The paths that are not the locks a process takes on a data folder. */
function withoutLocks(paths: string[]): string[] {
  return paths.filter((p) => !['running.lock', 'server.lock', 'server.pid'].includes(p));
}

function isBackupError(code: string) {
  return (error: unknown) => error instanceof BackupError && error.code === code;
}

describe('backup and restore of the embedded platform', () => {
  let api: TestApi;
  let settings: Settings;
  let tenant: { id: string; key: string };
  const scratch = mkdtempSync(join(tmpdir(), 'palisade-backup-'));
  /** Record id → n, of every create acknowledged before the backup began. */
  const preBackup = new Map<string, number>();
  /** Every acknowledged create, before, during and after the backup. */
  const acknowledged = new Map<string, number>();
  let backupDir: string;

  const create = async (n: number) => {
    const reply = await api.call('POST', '/v1/collections/items/records', tenant.key, {
      n,
      secret: `s-${n}`,
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    acknowledged.set(reply.body.id, n);
    return reply.body.id as string;
  };

  before(async () => {
    api = await TestApi.start('sqlite');
    settings = api.fixture.settings;
    tenant = await api.tenant('backed-up');
    const put = await api.call('PUT', '/v1/collections/items', tenant.key, {
      schema: SCHEMA,
      encrypted: ['secret'],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    for (let n = 0; n < 50; n++) preBackup.set(await create(n), n);

    // Writers keep going while the backup runs: it must not wait for them, nor they for it.
    let writing = true;
    let next = 1000;
    const writers = Array.from({ length: 4 }, async () => {
      while (writing) await create(next++);
    });
    backupDir = join(scratch, 'backup');
    let progressed = 0;
    const manifest = await backupPlatform(settings, backupDir, {
      onProgress: () => {
        progressed++;
      },
    });
    writing = false;
    await Promise.all(writers);
    assert.equal(progressed, manifest.files.length);
    await api.platform.close();
  });
  after(async () => {
    await api.fixture.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('the backup lists every file with its hash, in the order that keeps it consistent', () => {
    const manifest = JSON.parse(readFileSync(join(backupDir, 'backup.json'), 'utf8'));
    const paths: string[] = manifest.files.map((f: { path: string }) => f.path);
    assert.equal(manifest.format, 'palisade-backup/v1');
    assert.equal(manifest.includesMasterKey, false);
    assert.match(manifest.masterKeyId, /\S/);
    assert.ok(!paths.includes('master.key') && !existsSync(join(backupDir, 'master.key')));
    assert.ok(paths.includes('ledger-signing.json'));
    const tenantFile = paths.findIndex((p) => p.endsWith(`/${tenant.id}.db`));
    assert.ok(tenantFile > paths.indexOf('platform-log.db'), 'the platform log before tenants');
    assert.ok(
      paths.indexOf('bus-outbox.db') < paths.indexOf('bus.db'),
      'the cursor before the bus',
    );
    assert.equal(
      paths.filter((p) => p.endsWith('.db')).at(-1),
      'platform.db',
      'the control plane after every tenant file',
    );
    for (const path of paths) assert.equal(statSync(join(backupDir, path)).mode & 0o777, 0o600);
    assert.ok(!existsSync(`${backupDir}.partial`));
    assert.deepEqual(filesUnder(backupDir), ['backup.json', ...paths].sort(), 'no -wal or -shm');
  });

  test('a restore holds every record acknowledged before the backup, whole, and its ledger verifies', async () => {
    const restored: Settings = { ...settings, data: join(scratch, 'restored') };
    const before = filesUnder(backupDir);
    const manifest = await restorePlatform(restored, backupDir);
    assert.deepEqual(filesUnder(backupDir), before, 'reading a backup writes nothing beside it');
    assert.equal(manifest.masterKeyId !== null, true);
    // The operator brings the master key, kept apart from the backup.
    copyFileSync(join(settings.data, 'master.key'), join(restored.data, 'master.key'));
    const platform = await startPlatform(restored, { listen: false });
    try {
      const call = async (method: 'GET' | 'POST', url: string, payload?: unknown) => {
        const reply = await platform.http.inject({
          method,
          url,
          headers: {
            authorization: `Bearer ${tenant.key}`,
            ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
        });
        return { status: reply.statusCode, body: reply.json() };
      };
      const found = new Map<string, number>();
      let cursor = '';
      for (;;) {
        const page = await call('GET', `/v1/collections/items/records?limit=100${cursor}`);
        assert.equal(page.status, 200, JSON.stringify(page.body));
        for (const item of page.body.items) {
          assert.equal(item.data.secret, `s-${item.data.n}`, 'the encrypted field opens');
          found.set(item.id, item.data.n);
        }
        if (page.body.nextCursor === null) break;
        cursor = `&cursor=${page.body.nextCursor}`;
      }
      for (const [id, n] of preBackup) assert.equal(found.get(id), n, `record ${n} is restored`);
      for (const [id, n] of found)
        assert.equal(acknowledged.get(id), n, 'only whole, acknowledged records');
      assert.ok(found.size <= acknowledged.size);

      // The ledger goes on from the restored state, and verifies against the platform log.
      assert.equal((await call('POST', '/v1/collections/items/records', { n: -1 })).status, 201);
      const keys = await platform.http.inject({ method: 'GET', url: '/v1/platform/ledger/keys' });
      const trusted = keys.json().keys.map((k: string) => parseVerifierKey(k, nodeVerifyProvider));
      const bundle = (await call('GET', '/v1/ledger/export')).body as LedgerBundle;
      const summary = await verifyBundle(nodeHasher, bundle, trusted);
      assert.equal(summary.records, found.size + 1);
    } finally {
      await platform.close();
    }
  });

  test('a restore refuses a changed backup before it writes anything', async () => {
    const copy = join(scratch, 'backup-copy');
    cpSync(backupDir, copy, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(copy, 'backup.json'), 'utf8'));
    const tenantPath = manifest.files.find((f: { path: string }) =>
      f.path.endsWith(`${tenant.id}.db`),
    ).path;
    const bytes = readFileSync(join(copy, tenantPath));
    const at = bytes.length - 100;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
    writeFileSync(join(copy, tenantPath), bytes);
    const target: Settings = { ...settings, data: join(scratch, 'never-written') };
    await assert.rejects(restorePlatform(target, copy), isBackupError('BACKUP_CORRUPT'));
    assert.ok(!existsSync(join(target.data, 'platform.db')), 'nothing restored');

    manifest.files[0].path = '../escape.db';
    writeFileSync(join(copy, 'backup.json'), JSON.stringify(manifest));
    await assert.rejects(restorePlatform(target, copy), isBackupError('BACKUP_UNREADABLE'));
  });

  test('a restore refuses a manifest palisade backup did not write, naming what is wrong, before it writes anything', async () => {
    const original = JSON.parse(readFileSync(join(backupDir, 'backup.json'), 'utf8'));
    const target: Settings = { ...settings, data: join(scratch, 'never-restored') };
    const cases: [unknown, RegExp][] = [
      [null, /is not a JSON object/],
      [[original], /is not a JSON object/],
      [{ ...original, files: [...original.files, null] }, /a file entry null is not an object/],
      [
        { ...original, files: original.files.map((f: object) => ({ ...f, sha256: undefined })) },
        /the hash of \S+ is not a SHA-256/,
      ],
      [
        { ...original, files: [...original.files, original.files[0]] },
        /lists bus-outbox\.db twice/,
      ],
      // Without its control plane a restore would leave tenant files that no platform names.
      [
        {
          ...original,
          files: original.files.filter((f: { path: string }) => f.path !== 'platform.db'),
        },
        /lists no platform\.db/,
      ],
    ];
    for (const [manifest, reason] of cases) {
      const copy = join(scratch, 'foreign');
      rmSync(copy, { recursive: true, force: true });
      cpSync(backupDir, copy, { recursive: true });
      writeFileSync(join(copy, 'backup.json'), JSON.stringify(manifest));
      await assert.rejects(
        restorePlatform(target, copy),
        (error) =>
          isBackupError('BACKUP_UNREADABLE')(error) && reason.test((error as Error).message),
        JSON.stringify(manifest).slice(0, 80),
      );
      assert.deepEqual(
        existsSync(target.data) ? filesUnder(target.data) : [],
        [],
        'nothing restored',
      );
    }
  });

  test('a restore that fails part-way removes what it wrote, so it can run again', async () => {
    const target: Settings = { ...settings, data: join(scratch, 'restore-failing') };
    await assert.rejects(
      restorePlatform(target, backupDir, {
        onProgress: ({ files }) => {
          if (files === 2) throw new Error('no space left on device');
        },
      }),
      (error) =>
        isBackupError('RESTORE_FAILED')(error) &&
        /no space left on device.*run palisade restore again/.test((error as Error).message),
    );
    assert.deepEqual(withoutLocks(filesUnder(target.data)), [], 'nothing of it is left');
    await restorePlatform(target, backupDir);
    assert.ok(existsSync(join(target.data, 'platform.db')));
  });

  test('a restore that was killed leaves a folder no platform opens, and restoring into it again finishes it', async () => {
    const target: Settings = { ...settings, data: join(scratch, 'restore-watched') };
    const killed: Settings = { ...settings, data: join(scratch, 'restore-killed') };
    const order: string[] = [];
    await restorePlatform(target, backupDir, {
      onProgress: ({ files, path }) => {
        order.push(path);
        // What a restore killed here leaves: the folder as it is now.
        if (files === 2)
          cpSync(target.data, killed.data, {
            recursive: true,
            filter: (source) => withoutLocks([relative(target.data, source)]).length > 0,
          });
      },
    });
    assert.equal(order.at(-1), 'platform.db', 'the control plane goes in last, after the keys');
    assert.ok(order.indexOf('ledger-signing.json') < order.indexOf('platform.db'));

    await assert.rejects(
      startPlatform(killed, { listen: false }),
      /the restore into \S+ did not finish .*run palisade restore --from \S+ --data \S+ again/,
    );
    await restorePlatform(killed, backupDir);
    assert.deepEqual(withoutLocks(filesUnder(killed.data)), withoutLocks(filesUnder(target.data)));
    copyFileSync(join(settings.data, 'master.key'), join(killed.data, 'master.key'));
    const platform = await startPlatform(killed, { listen: false });
    await platform.close();
  });

  test('a restore writes only into an empty data folder, a backup only into a new one; never with PostgreSQL', async () => {
    await assert.rejects(
      restorePlatform(settings, backupDir),
      isBackupError('RESTORE_TARGET_NOT_EMPTY'),
    );
    await assert.rejects(
      backupPlatform(settings, backupDir),
      isBackupError('BACKUP_TARGET_EXISTS'),
    );
    const empty: Settings = { ...settings, data: join(scratch, 'no-platform') };
    const scaledOut: Settings = { ...settings, database: 'postgres://127.0.0.1:1/none' };
    await assert.rejects(
      backupPlatform(scaledOut, join(scratch, 'y')),
      isBackupError('BACKUP_NOT_EMBEDDED'),
    );
    await assert.rejects(
      restorePlatform(scaledOut, backupDir),
      isBackupError('BACKUP_NOT_EMBEDDED'),
    );
    await assert.rejects(
      backupPlatform(empty, join(scratch, 'x')),
      isBackupError('BACKUP_NO_PLATFORM'),
    );
  });

  test('with the master key included, a restored platform starts on its own', async () => {
    const withKey = join(scratch, 'with-key');
    const manifest = await backupPlatform(settings, withKey, { includeMasterKey: true });
    assert.equal(manifest.includesMasterKey, true);
    assert.equal(statSync(join(withKey, 'master.key')).mode & 0o777, 0o600);
    const restored: Settings = { ...settings, data: join(scratch, 'restored-with-key') };
    await restorePlatform(restored, withKey);
    const platform = await startPlatform(restored, { listen: false });
    await platform.close();
  });

  test("a restore puts the key files where the target's settings name them, never over another key", async () => {
    const backup = join(scratch, 'keys-backup');
    await backupPlatform(settings, backup, { includeMasterKey: true });
    const keys = join(scratch, 'keys-elsewhere', 'palisade');
    const target: Settings = {
      ...settings,
      data: join(scratch, 'restored-keys-elsewhere'),
      ledgerKeyFile: join(keys, 'ledger.json'),
      masterKeyFile: join(keys, 'master.key'),
    };
    // A restore that fails after writing the key files removes them too.
    await assert.rejects(
      restorePlatform(target, backup, {
        onProgress: ({ path }) => {
          if (path === 'master.key') throw new Error('no space left on device');
        },
      }),
      isBackupError('RESTORE_FAILED'),
    );
    assert.equal(
      existsSync(join(scratch, 'keys-elsewhere')),
      false,
      'nor the folders made for them',
    );
    assert.deepEqual(withoutLocks(filesUnder(target.data)), []);

    await restorePlatform(target, backup);
    for (const [name, path] of [
      ['ledger-signing.json', target.ledgerKeyFile!],
      ['master.key', target.masterKeyFile!],
    ] as const) {
      assert.deepEqual(readFileSync(path), readFileSync(join(backup, name)), name);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(existsSync(join(target.data, name)), false, `${name} not in the data folder`);
    }
    const platform = await startPlatform(target, { listen: false });
    await platform.close();

    // The same keys already in place are kept; another key is never overwritten.
    const again: Settings = { ...target, data: join(scratch, 'restored-keys-again') };
    await restorePlatform(again, backup);
    assert.ok(existsSync(join(again.data, 'platform.db')));
    const other: Settings = { ...target, data: join(scratch, 'restored-keys-other') };
    const otherLedgerKey = readFileSync(join(settings.data, 'master.key'));
    writeFileSync(target.ledgerKeyFile!, otherLedgerKey);
    await assert.rejects(
      restorePlatform(other, backup),
      (error) =>
        isBackupError('RESTORE_KEY_FILE_EXISTS')(error) &&
        (error as Error).message.includes(target.ledgerKeyFile!),
    );
    assert.deepEqual(readFileSync(target.ledgerKeyFile!), otherLedgerKey, 'left as it was');
    assert.deepEqual(withoutLocks(filesUnder(other.data)), [], 'nothing written');
  });

  test("a master key given in the settings is never written to disk, and must be the backup's", async () => {
    const backup = join(scratch, 'key-given-backup');
    const manifest = await backupPlatform(settings, backup, { includeMasterKey: true });
    const masterKey = readFileSync(join(settings.data, 'master.key'), 'utf8');
    const keys = join(scratch, 'key-given-keys');
    const other: Settings = {
      ...settings,
      data: join(scratch, 'restored-other-key'),
      masterKey: randomBytes(32).toString('hex'),
      masterKeyFile: join(keys, 'master.key'),
    };
    await assert.rejects(
      restorePlatform(other, backup),
      (error) =>
        isBackupError('RESTORE_MASTER_KEY_MISMATCH')(error) &&
        (error as Error).message.includes(manifest.masterKeyId!),
    );
    assert.deepEqual(withoutLocks(filesUnder(other.data)), [], 'nothing written');
    assert.equal(existsSync(keys), false);

    const target: Settings = { ...other, data: join(scratch, 'restored-key-given'), masterKey };
    const restored = await restorePlatform(target, backup);
    assert.equal(existsSync(keys), false, 'no master key file where the settings name one');
    assert.equal(existsSync(join(target.data, 'master.key')), false, 'nor in the data folder');
    assert.ok(!restored.files.some((f) => f.path === 'master.key'));
    const platform = await startPlatform(target, { listen: false });
    await platform.close();
  });
});
