/**
 * Restore of a backup `platform-backup.ts` wrote, into an empty data folder, all or nothing.
 *
 * Everything is checked before anything is written. A restore first writes a marker,
 * `restore.partial`, naming the files it will put in place (the key files where the target's
 * settings put them, which may be outside the data folder: `restore-targets.ts`), and removes
 * it once the last one is;
 * `platform.db` goes in last, after the key files, so a folder holding it holds the whole
 * platform. A restore that fails (a full disk, say) removes what it wrote, leaving the folder
 * empty to run it again. One that was killed leaves the marker: no store opens on such a folder
 * (`refuseHalfRestored`), and a restore into it removes what the marker names and starts over.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError, type Settings } from '../../config/index.ts';
import { acquireRunningLock } from '../running-lock.ts';
import {
  BackupError,
  type BackupManifest,
  CONTROL_PLANE,
  checkBackup,
  fsyncPath,
  readManifest,
} from './backup-manifest.ts';
import {
  eraseDeletedFromBus,
  keepsFile,
  settleDeletedTenants,
  tenantsIn,
} from './backup-tenants.ts';
import { type BackupProgress, BUS_FILE, MASTER_KEY, refuseScaleOut } from './platform-backup.ts';
import { foldersToMake, planRestore } from './restore-targets.ts';

/** Written first and removed last by a restore: while it is there, the folder is half restored. */
const MARKER = 'restore.partial';
/** What may already be in a data folder a backup is restored into. */
const LOCK_FILES = new Set(['running.lock', 'server.lock', 'server.pid']);

interface Marker {
  readonly from: string;
  /** Relative to the data folder. */
  readonly files: readonly string[];
  /** Key files outside the data folder, where the settings put them (absolute). */
  readonly elsewhere?: readonly string[];
  /** Folders the restore makes for them, deepest first (absolute). */
  readonly folders?: readonly string[];
}

/**
 * Throws a ConfigError when a restore into `data` was stopped before it finished: a platform
 * opened on what it left would lack its control plane or keys and make new ones.
 */
export function refuseHalfRestored(data: string): void {
  const marker = join(data, MARKER);
  if (!existsSync(marker)) return;
  let from = 'the backup';
  try {
    from = (JSON.parse(readFileSync(marker, 'utf8')) as Marker).from;
  } catch {
    // A marker cut short still means the restore did not finish.
  }
  throw new ConfigError(
    `the restore into ${data} did not finish (${MARKER} is there): run palisade restore --from ${from} --data ${data} again, which starts it over`,
  );
}

/** The marker of a restore that was stopped in `data`, if one was. */
function markerIn(data: string): Marker | undefined {
  const path = join(data, MARKER);
  if (!existsSync(path)) return undefined;
  try {
    const marker = JSON.parse(readFileSync(path, 'utf8')) as Marker;
    if (Array.isArray(marker.files)) return marker;
  } catch {
    // Cut short before it named its files: it put none in place.
  }
  return { from: 'the backup', files: [] };
}

/** Refuses a data folder holding anything but locks and what a stopped restore left. */
async function refuseOccupied(data: string, marker: Marker | undefined): Promise<void> {
  if (!existsSync(data)) return;
  const leftover = new Set(marker?.files.map((f) => f.split('/')[0]) ?? []);
  const present = (await readdir(data)).filter(
    (name) => !LOCK_FILES.has(name) && name !== MARKER && !leftover.has(name),
  );
  if (present.length > 0)
    throw new BackupError(
      'RESTORE_TARGET_NOT_EMPTY',
      `${data} is not empty (${present.slice(0, 3).join(', ')}…): restore into a new data folder, or move this one aside first`,
    );
}

/**
 * Removes the files a restore put (or was putting) in place, in the data folder and the key
 * files outside it, the folders it made for them, then the marker.
 */
async function removeRestored(
  data: string,
  { files, elsewhere = [], folders: outside = [] }: Marker,
): Promise<void> {
  for (const file of elsewhere) {
    await rm(file, { force: true });
    await rm(`${file}.partial`, { force: true });
  }
  for (const folder of outside) await rmdir(folder).catch(() => undefined); // kept when not empty
  for (const file of files) {
    await rm(join(data, file), { force: true });
    await rm(join(data, `${file}.partial`), { force: true });
  }
  const folders = new Set(files.map((f) => dirname(f)).filter((d) => d !== '.'));
  for (const folder of [...folders].sort().reverse()) {
    for (let d = folder; d !== '.'; d = dirname(d))
      await rmdir(join(data, d)).catch(() => undefined); // kept when something else is in it
  }
  await rm(join(data, MARKER), { force: true });
  await fsyncPath(data);
}

/** The control plane last: a folder that holds it holds the whole platform. */
function inRestoreOrder(files: readonly BackupManifest['files'][number][]) {
  return [
    ...files.filter((f) => f.path !== CONTROL_PLANE),
    ...files.filter((f) => f.path === CONTROL_PLANE),
  ];
}

/**
 * Restores the backup in `from` into the data folder of `settings`, which must hold no
 * platform and no running server (or only what a stopped restore left, which goes first).
 * A tenant the backup's control plane shows deleted stays deleted, even from a backup written
 * before backups left such tenants out: its file is not restored and its keys are destroyed.
 * The manifest of what was restored (without the master key file when the settings give the
 * key itself, which it then checks).
 */
export async function restorePlatform(
  settings: Settings,
  from: string,
  options: { readonly onProgress?: BackupProgress } = {},
): Promise<BackupManifest> {
  refuseScaleOut(settings, 'restore');
  const data = settings.data;
  const manifest = await readManifest(from);
  await refuseOccupied(data, markerIn(data));
  const running = await acquireRunningLock(settings, 'exclusive', { ownDataFolder: true });
  try {
    const stopped = markerIn(data);
    await refuseOccupied(data, stopped);
    await checkBackup(from, manifest);
    const tenants = tenantsIn(join(from, CONTROL_PLANE));
    const restored = inRestoreOrder(manifest.files.filter((f) => keepsFile(f.path, tenants.live)));
    const plan = planRestore(
      settings,
      from,
      { files: restored, masterKeyId: manifest.masterKeyId },
      stopped?.elsewhere ?? [],
    );
    if (stopped !== undefined) await removeRestored(data, stopped);
    const marker: Marker = {
      from,
      files: plan.inData,
      elsewhere: plan.elsewhere,
      folders: foldersToMake(plan.elsewhere),
    };
    await writeFile(join(data, MARKER), `${JSON.stringify(marker)}\n`, { mode: 0o600 });
    await fsyncPath(join(data, MARKER));
    await fsyncPath(data);
    try {
      let bytes = 0;
      for (const [i, { file, target }] of plan.targets.entries()) {
        await mkdir(dirname(target), { recursive: true, mode: 0o700 });
        await copyFile(join(from, file.path), `${target}.partial`);
        await chmod(`${target}.partial`, 0o600);
        if (file.path === CONTROL_PLANE)
          settleDeletedTenants(`${target}.partial`, new Date().toISOString());
        if (file.path === BUS_FILE) eraseDeletedFromBus(`${target}.partial`, tenants.deleted);
        await fsyncPath(`${target}.partial`);
        await rename(`${target}.partial`, target);
        bytes += file.bytes;
        await options.onProgress?.({
          files: i + 1,
          totalFiles: plan.targets.length,
          bytes,
          path: file.path,
        });
      }
      await rm(join(data, MARKER));
      await fsyncPath(data);
    } catch (error) {
      await removeRestored(data, marker);
      throw new BackupError(
        'RESTORE_FAILED',
        `restoring into ${data} failed (${(error as Error).message}); what it had restored is removed again: fix the cause, then run palisade restore again`,
      );
    }
    const offDisk = settings.masterKey !== undefined;
    return { ...manifest, files: restored.filter((f) => !offDisk || f.path !== MASTER_KEY) };
  } finally {
    await running.release();
  }
}
