/**
 * A backup taken while tenants are deleted holds a consistent set: the control plane it copies
 * last decides. A tenant it shows deleted (its deletion finished, or only begun) has neither
 * its file nor its KEKs in the backup, whenever its file was copied; a tenant deleted before
 * its file was reached is simply absent; a tenant made meanwhile is in it, empty. A restore
 * does not resurrect a tenant its backup's control plane shows deleted, even from a backup
 * that still holds the tenant's file and keys.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type BackupManifest,
  backupPlatform,
  restorePlatform,
  type Settings,
  startPlatform,
} from '../src/index.ts';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';

interface Tenant {
  readonly id: string;
  readonly key: string;
}

const SCHEMA = { type: 'object', properties: { secret: { type: 'string' } } };

/** The KEK rows and API keys still live, per tenant, in a control-plane file. */
function controlPlaneOf(platformDb: string) {
  const db = new DatabaseSync(platformDb, { readOnly: true });
  try {
    const keks = db.prepare('SELECT tenant_id FROM tenant_keks').all() as { tenant_id: string }[];
    const keys = db.prepare('SELECT tenant_id FROM api_keys WHERE revoked_at IS NULL').all() as {
      tenant_id: string;
    }[];
    return {
      keks: new Set(keks.map((row) => row.tenant_id)),
      liveKeys: new Set(keys.map((row) => row.tenant_id)),
    };
  } finally {
    db.close();
  }
}

/** The id of each tenant's record, which its ledger event carries onto the bus. */
const records = new Map<string, string>();
const label = (tenant: Tenant) => records.get(tenant.id)!;

/** How many bus messages in the stream file at `busDb` carry `text`. */
function busMessagesWith(busDb: string, text: string): number {
  const db = new DatabaseSync(busDb, { readOnly: true });
  try {
    const row = db
      .prepare('SELECT count(*) AS n FROM messages WHERE instr(payload, ?) > 0')
      .get(text) as { n: number };
    return Number(row.n);
  } finally {
    db.close();
  }
}

const tenantFile = (manifest: BackupManifest, tenant: Tenant) =>
  manifest.files.find((f) => f.path.endsWith(`/${tenant.id}.db`));

describe('a backup taken while tenants are deleted', () => {
  let api: TestApi;
  let settings: Settings;
  const scratch = mkdtempSync(join(tmpdir(), 'palisade-backup-deletes-'));
  const backupDir = join(scratch, 'backup');
  let manifest: BackupManifest;
  /** Stays. */
  let kept: Tenant;
  /** Deleted whole after its file was copied, before the control plane was. */
  let gone: Tenant;
  /** Its deletion begun (marked deleted, KEKs not yet destroyed) when the control plane was copied. */
  let halfway: Tenant;
  /** Deleted whole before its file was reached. */
  let vanished: Tenant;
  /** Made after the files were listed. */
  let late: Tenant;
  /** The sealed KEK seed of `halfway`, as the live control plane held it. */
  let halfwaySeed: Buffer;
  /** The backup's last progress report. */
  let progress = { files: 0, totalFiles: -1 };

  const withSecret = async (tenant: Tenant) => {
    const put = await api.call('PUT', '/v1/collections/notes', tenant.key, {
      schema: SCHEMA,
      encrypted: ['secret'],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const made = await api.call('POST', '/v1/collections/notes/records', tenant.key, {
      secret: 'only-mine',
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    records.set(tenant.id, made.body.id);
    // The record's ledger event reaches the bus after the commit.
    while (busMessagesWith(join(settings.data, 'bus.db'), label(tenant)) === 0) await sleep(20);
  };
  const remove = async (tenant: Tenant) => {
    const reply = await api.call('DELETE', `/v1/platform/tenants/${tenant.id}`, ADMIN_TOKEN);
    assert.equal(reply.status, 204, JSON.stringify(reply.body));
  };

  before(async () => {
    api = await TestApi.start('sqlite');
    settings = api.fixture.settings;
    kept = await api.tenant('kept');
    gone = await api.tenant('gone');
    halfway = await api.tenant('halfway');
    vanished = await api.tenant('vanished');
    for (const tenant of [kept, gone, halfway, vanished]) await withSecret(tenant);
    const [kek] = await api.platform.stores.controlPlane.keys.listKeks(halfway.id);
    halfwaySeed = Buffer.from(kek!.sealedSeed);

    // Each step runs once the backup has copied the file named, before it copies the next.
    manifest = await backupPlatform(settings, backupDir, {
      onProgress: async ({ path, files, totalFiles }) => {
        progress = { files, totalFiles };
        if (path === 'platform-log.db') {
          await remove(vanished);
          late = await api.tenant('late');
        }
        if (path.endsWith(`/${gone.id}.db`)) await remove(gone);
        if (path.endsWith(`/${halfway.id}.db`))
          await api.platform.stores.controlPlane.updateTenant(
            halfway.id,
            { status: 'deleted' },
            new Date().toISOString(),
          );
      },
    });
    await remove(halfway);
  });
  after(async () => {
    await api.platform.close();
    await api.fixture.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });

  test("holds only the files of tenants its control plane names live, and no deleted tenant's keys", () => {
    assert.ok(tenantFile(manifest, kept), 'a live tenant is backed up');
    for (const tenant of [gone, halfway, vanished]) {
      assert.equal(tenantFile(manifest, tenant), undefined, 'a deleted tenant is not listed');
      for (const shard of ['s1', 's2'])
        assert.ok(!existsSync(join(backupDir, 'shards', shard, `${tenant.id}.db`)), 'nor kept');
    }
    const platformDb = join(backupDir, 'platform.db');
    const { keks, liveKeys } = controlPlaneOf(platformDb);
    assert.ok(keks.has(kept.id) && keks.has(late.id), 'live tenants keep their keys');
    for (const tenant of [gone, halfway, vanished]) {
      assert.ok(!keks.has(tenant.id), 'a deleted tenant has no KEK in the backup');
      assert.ok(!liveKeys.has(tenant.id), 'nor a live API key');
    }
    assert.equal(
      readFileSync(platformDb).indexOf(halfwaySeed),
      -1,
      "no byte of the half-deleted tenant's sealed KEK is left in the file",
    );
    const wal = `${platformDb}-wal`;
    assert.ok(!existsSync(wal) || statSync(wal).size === 0, 'nor in a write-ahead log');
    const busDb = join(backupDir, 'bus.db');
    assert.ok(busMessagesWith(busDb, label(kept)) > 0, "a live tenant's bus messages are kept");
    for (const tenant of [gone, halfway, vanished]) {
      assert.equal(busMessagesWith(busDb, label(tenant)), 0, "a deleted tenant's are not");
      assert.equal(readFileSync(busDb).indexOf(label(tenant)), -1, 'nor any byte of them');
    }
    const bus = manifest.files.find((f) => f.path === 'bus.db')!;
    assert.equal(createHash('sha256').update(readFileSync(busDb)).digest('hex'), bus.sha256);
    const listed = manifest.files.find((f) => f.path === 'platform.db')!;
    assert.equal(
      createHash('sha256').update(readFileSync(platformDb)).digest('hex'),
      listed.sha256,
      'the manifest lists the control plane as settled',
    );
  });

  test('its progress ends at the total it reports, with a tenant file gone before its turn', () => {
    // A terminal's progress line ends only there.
    assert.deepEqual(progress, { files: progress.totalFiles, totalFiles: progress.totalFiles });
  });

  test('restores the live tenants, and no deleted one', async () => {
    const restored: Settings = { ...settings, data: join(scratch, 'restored') };
    await restorePlatform(restored, backupDir);
    copyFileSync(join(settings.data, 'master.key'), join(restored.data, 'master.key'));
    const platform = await startPlatform(restored, { listen: false });
    try {
      const notes = (tenant: Tenant) =>
        platform.http.inject({
          method: 'GET',
          url: '/v1/collections/notes/records',
          headers: { authorization: `Bearer ${tenant.key}` },
        });
      const mine = await notes(kept);
      assert.equal(mine.statusCode, 200, mine.body);
      assert.deepEqual(
        mine.json().items.map((r: { data: { secret: string } }) => r.data.secret),
        ['only-mine'],
      );
      for (const tenant of [gone, halfway, vanished])
        assert.equal((await notes(tenant)).statusCode, 401, 'a deleted tenant stays deleted');
      const newcomer = await platform.http.inject({
        method: 'GET',
        url: '/v1/collections',
        headers: { authorization: `Bearer ${late.key}` },
      });
      assert.equal(newcomer.statusCode, 200, 'the tenant made meanwhile is there, restored');
    } finally {
      await platform.close();
    }
  });

  /**
   * A backup as written before backups settled their tenants: the file and keys of a tenant
   * (`kept`) whose deletion had begun when the control plane was copied.
   */
  const olderBackup = (name: string) => {
    const older = join(scratch, name);
    cpSync(backupDir, older, { recursive: true });
    const db = new DatabaseSync(join(older, 'platform.db'));
    db.prepare("UPDATE tenants SET status = 'deleted' WHERE id = ?").run(kept.id);
    db.close();
    const files = manifest.files.map((f) => {
      const bytes = readFileSync(join(older, f.path));
      return {
        ...f,
        bytes: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      };
    });
    writeFileSync(join(older, 'backup.json'), JSON.stringify({ ...manifest, files }));
    return older;
  };

  test("a restore leaves out a tenant its backup's control plane shows deleted, file and keys", async () => {
    const older = olderBackup('older');
    const path = tenantFile(manifest, kept)!.path;
    const restored: Settings = { ...settings, data: join(scratch, 'restored-older') };
    await restorePlatform(restored, older);
    assert.ok(!existsSync(join(restored.data, path)), "the deleted tenant's file is not restored");
    const { keks } = controlPlaneOf(join(restored.data, 'platform.db'));
    assert.ok(!keks.has(kept.id), 'nor its keys');
    assert.equal(
      busMessagesWith(join(restored.data, 'bus.db'), label(kept)),
      0,
      'nor its messages',
    );
    assert.ok(keks.has(late.id), "another tenant's keys are");
  });

  test("a restore stopped once its last file is in place has already settled the deleted tenant's keys and messages", async () => {
    // The process is killed right after the control plane lands, before the restore ends: the
    // copies in the folder must not hold the deleted tenant's keys or messages even then.
    const older = olderBackup('older-stopped');
    const watched: Settings = { ...settings, data: join(scratch, 'restored-watched') };
    const restored: Settings = { ...settings, data: join(scratch, 'restored-stopped') };
    await restorePlatform(watched, older, {
      onProgress: ({ path }) => {
        if (path === 'platform.db') cpSync(watched.data, restored.data, { recursive: true });
      },
    });
    const { keks } = controlPlaneOf(join(restored.data, 'platform.db'));
    assert.ok(!keks.has(kept.id), "the deleted tenant's keys are not in the restored folder");
    assert.ok(keks.has(late.id), "another tenant's keys are");
    assert.equal(
      busMessagesWith(join(restored.data, 'bus.db'), label(kept)),
      0,
      'nor its messages',
    );
  });
});
