/**
 * Backup and restore of the embedded platform: every SQLite file under the data folder,
 * copied with SQLite's online backup while servers keep running, plus the ledger signing key
 * (and, only when asked, the master key file).
 *
 * Each file is a consistent snapshot of itself; the files are taken in an order under which
 * the set is consistent too. The outbox cursor before the bus (the bus then holds at least
 * what the cursor says was published; a restored relay publishes the rest again, and
 * consumers take events at least once anyway). The platform log before the tenant files (a
 * restored tenant's ledger then extends what the platform log anchors of it; the other way
 * round, the log could anchor checkpoints that no restored ledger reaches). The control
 * plane last (it then names every tenant whose file was copied, and holds the KEK of each; a
 * tenant made meanwhile has its row but no file yet, and starts empty, as it was). The copied
 * control plane then decides which tenant files stay: a tenant deleted while the backup ran
 * keeps neither its file nor its keys (see `backup-tenants.ts`).
 *
 * A backup is written to `OUT.partial` and renamed to OUT once whole, with `backup.json`
 * listing every file's size and SHA-256 (`backup-manifest.ts`), which a restore checks before
 * it writes anything (`platform-restore.ts`).
 *
 * The master key stays out unless asked for: a backup that holds it opens every tenant's
 * encrypted fields on its own, and keeps a deleted tenant's data readable for as long as the
 * backup lives (crypto-shredding reaches a backup only through its master key).
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { backup, DatabaseSync } from 'node:sqlite';
import { readSealedHeader } from '@palisade/crypto';
import type { Settings } from '../../config/index.ts';
import { masterKeyFile } from '../../keys/master-key-source.ts';
import { acquireRunningLock } from '../running-lock.ts';
import {
  BACKUP_FORMAT,
  BackupError,
  type BackupFile,
  type BackupManifest,
  CONTROL_PLANE,
  described,
  fsyncPath,
  MANIFEST,
} from './backup-manifest.ts';
import {
  eraseDeletedFromBus,
  keepsFile,
  type LiveTenants,
  settleDeletedTenants,
} from './backup-tenants.ts';

/** The embedded bus's stream file. */
export const BUS_FILE = 'bus.db';
const LEDGER_KEY = 'ledger-signing.json';
export const MASTER_KEY = 'master.key';

/**
 * The key files of `settings` by their name in a backup: where a backup reads them and a
 * restore puts them (the `ledgerKeyFile` and `masterKeyFile` settings, or their defaults under
 * the data folder).
 */
export function keyFilesOf(settings: Settings): ReadonlyMap<string, string> {
  return new Map([
    [LEDGER_KEY, settings.ledgerKeyFile ?? join(settings.data, LEDGER_KEY)],
    [MASTER_KEY, masterKeyFile(settings)],
  ]);
}
/** SQLite's backup copies this many pages per step: all of a file in one read transaction. */
const ALL_PAGES = 2_147_483_647;

/**
 * How far a backup or restore has come, after each file copied (a backup may then leave out a
 * tenant file its control plane no longer names). The next file waits for a returned promise.
 */
export type BackupProgress = (done: {
  readonly files: number;
  readonly totalFiles: number;
  readonly bytes: number;
  readonly path: string;
}) => void | Promise<void>;

export function refuseScaleOut(settings: Settings, what: string): void {
  if (settings.database !== undefined || settings.shards.some((s) => s.startsWith('postgres')))
    throw new BackupError(
      'BACKUP_NOT_EMBEDDED',
      `palisade ${what} copies the embedded SQLite platform; with PostgreSQL use its own tools ` +
        '(pg_dump or pg_basebackup of the control plane and every shard) and keep the master key apart',
    );
}

/** The data folder's SQLite files in the order that keeps a backup consistent (see above). */
async function databaseFiles(data: string): Promise<string[]> {
  const shards: string[] = [];
  const shardRoot = join(data, 'shards');
  if (existsSync(shardRoot))
    for (const shard of (await readdir(shardRoot, { withFileTypes: true })).sort()) {
      if (!shard.isDirectory()) continue;
      for (const file of (await readdir(join(shardRoot, shard.name))).sort())
        if (file.endsWith('.db')) shards.push(`shards/${shard.name}/${file}`);
    }
  return [
    ...['bus-outbox.db', BUS_FILE, 'platform-log.db'].filter((f) => existsSync(join(data, f))),
    ...shards,
    CONTROL_PLANE,
  ];
}

/**
 * Takes a copied database out of WAL mode (SQLite's backup copies the source's), so the file
 * stands alone: opening a WAL database, even read-only, makes a -shm file beside it (and a
 * -wal to write), which would change a backup's folder each time it is checked, and fail on a
 * read-only medium. A restored platform's stores put their files back in WAL mode as they open.
 */
function outOfWal(path: string): void {
  const db = new DatabaseSync(path);
  try {
    db.exec('PRAGMA journal_mode = DELETE');
  } finally {
    db.close();
  }
}

/**
 * The database at `path`, read-only; undefined when it is gone (a tenant deleted since the
 * files were listed, whenever in between: there is no window between a check and the open).
 */
function openIfThere(path: string): DatabaseSync | undefined {
  try {
    return new DatabaseSync(path, { readOnly: true, timeout: 5000 });
  } catch (error) {
    if (!existsSync(path)) return undefined;
    throw error;
  }
}

/** The master key id in the newest KEK's sealed header, read from a control-plane copy. */
function sealingKeyId(platformDb: string): string | null {
  const db = new DatabaseSync(platformDb, { readOnly: true });
  try {
    const row = db
      .prepare('SELECT sealed_seed FROM tenant_keks ORDER BY created_at DESC LIMIT 1')
      .get() as { sealed_seed: Uint8Array } | undefined;
    return row === undefined ? null : readSealedHeader(row.sealed_seed).masterKeyId;
  } finally {
    db.close();
  }
}

/**
 * Backs the embedded platform of `settings` up into the new folder `out`, while servers may
 * run on it (not while `palisade keys rotate-master` does). Returns what it wrote.
 */
export async function backupPlatform(
  settings: Settings,
  out: string,
  options: { readonly includeMasterKey?: boolean; readonly onProgress?: BackupProgress } = {},
): Promise<BackupManifest> {
  refuseScaleOut(settings, 'backup');
  if (!existsSync(join(settings.data, CONTROL_PLANE)))
    throw new BackupError(
      'BACKUP_NO_PLATFORM',
      `no platform in ${settings.data} (no platform.db): name its data folder with --data`,
    );
  if (existsSync(out))
    throw new BackupError(
      'BACKUP_TARGET_EXISTS',
      `${out} exists: name a new folder for the backup`,
    );
  const running = await acquireRunningLock(settings, 'shared');
  const partial = `${out}.partial`;
  try {
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true, mode: 0o700 });
    const paths = await databaseFiles(settings.data);
    const extra: [string, string][] = [];
    const keyFiles = keyFilesOf(settings);
    const ledgerKey = keyFiles.get(LEDGER_KEY)!;
    if (existsSync(ledgerKey)) extra.push([ledgerKey, LEDGER_KEY]);
    const keyFile = keyFiles.get(MASTER_KEY)!;
    if (options.includeMasterKey === true && existsSync(keyFile)) extra.push([keyFile, MASTER_KEY]);
    let totalFiles = paths.length + extra.length;
    let files: BackupFile[] = [];
    let copied = 0;
    let bytes = 0;
    const done = async (file: BackupFile) => {
      files.push(file);
      copied++;
      bytes += file.bytes;
      await options.onProgress?.({ files: copied, totalFiles, bytes, path: file.path });
    };
    let live: LiveTenants = new Map();
    let deleted: readonly string[] = [];
    for (const path of paths) {
      const db = openIfThere(join(settings.data, path));
      // A tenant deleted since the listing has no file any more: there is nothing to keep, nor
      // to count (the progress must still end at its total).
      if (db === undefined) {
        totalFiles--;
        continue;
      }
      try {
        await mkdir(dirname(join(partial, path)), { recursive: true, mode: 0o700 });
        await backup(db, join(partial, path), { rate: ALL_PAGES });
      } finally {
        db.close();
      }
      outOfWal(join(partial, path));
      // The control plane, copied last, decides which tenant files the backup keeps.
      if (path === CONTROL_PLANE)
        ({ live, deleted } = settleDeletedTenants(join(partial, path), new Date().toISOString()));
      await chmod(join(partial, path), 0o600);
      await done(await described(partial, path));
    }
    for (const file of files.filter((f) => !keepsFile(f.path, live)))
      await rm(join(partial, file.path));
    files = files.filter((f) => keepsFile(f.path, live));
    const bus = files.findIndex((f) => f.path === BUS_FILE);
    if (bus >= 0 && deleted.length > 0) {
      eraseDeletedFromBus(join(partial, BUS_FILE), deleted);
      files[bus] = await described(partial, BUS_FILE);
    }
    for (const [source, path] of extra) {
      await copyFile(source, join(partial, path));
      await chmod(join(partial, path), 0o600);
      await done(await described(partial, path));
    }
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      createdAt: new Date().toISOString(),
      masterKeyId: sealingKeyId(join(partial, CONTROL_PLANE)),
      includesMasterKey: files.some((f) => f.path === MASTER_KEY),
      files,
    };
    await writeFile(join(partial, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, {
      mode: 0o600,
    });
    await fsyncPath(join(partial, MANIFEST));
    await rename(partial, out);
    await fsyncPath(dirname(out));
    return manifest;
  } catch (error) {
    await rm(partial, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  } finally {
    await running.release();
  }
}
