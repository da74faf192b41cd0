/**
 * Where a restore puts each backed-up file. The databases go under the target's data folder;
 * the key files (`ledger-signing.json`, `master.key`) go where the target's `ledgerKeyFile`
 * and `masterKeyFile` settings say, which may be outside it: a server started with those
 * settings looks for them there, and would refuse to start (ledger key) or make or use another
 * key (master key) otherwise. A key file already there is kept when it is the backup's, and
 * refused when it is another: a restore never overwrites a key. Settings that give the master
 * key itself (PALISADE_MASTER_KEY) keep it off the disk: the backup's key file is not written
 * then, and the given key must be the one the backup's tenant keys are sealed under.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { MasterKey } from '@palisade/crypto';
import type { Settings } from '../../config/index.ts';
import { BackupError, type BackupManifest } from './backup-manifest.ts';
import { keyFilesOf, MASTER_KEY } from './platform-backup.ts';

/** A backed-up file and the path the restore writes it to. */
export interface RestoreTarget {
  readonly file: BackupManifest['files'][number];
  readonly target: string;
}

/** What a restore writes: inside the data folder (relative paths), and outside it (absolute). */
export interface RestorePlan {
  readonly targets: readonly RestoreTarget[];
  readonly inData: readonly string[];
  readonly elsewhere: readonly string[];
}

/**
 * Whether the settings give the master key itself; throws RESTORE_MASTER_KEY_MISMATCH when it
 * is not the key `masterKeyId` (the backup's tenant keys are sealed under), which a platform
 * restored with it would refuse at start.
 */
function masterKeyGiven(settings: Settings, masterKeyId: string | null): boolean {
  if (settings.masterKey === undefined) return false;
  const given = MasterKey.fromText(settings.masterKey, 'PALISADE_MASTER_KEY');
  const id = given.id;
  given.destroy();
  if (masterKeyId !== null && id !== masterKeyId)
    throw new BackupError(
      'RESTORE_MASTER_KEY_MISMATCH',
      `the backup's tenant keys are sealed under master key ${masterKeyId}, but PALISADE_MASTER_KEY (--master-key) is master key ${id}: set the backup's master key, then run palisade restore again`,
    );
  return true;
}

/**
 * Where each of `files` (from the backup in `from`, sealed under master key `masterKeyId`)
 * goes for `settings`, leaving out a key file already in place with the backup's content, and
 * the master key file when the settings give the key itself. `ours`: key files outside the
 * data folder that a stopped restore wrote, which it removes first. Throws, before anything
 * is written, RESTORE_KEY_FILE_EXISTS for a key file in place that is another key, and
 * RESTORE_MASTER_KEY_MISMATCH for a given master key that is not the backup's.
 */
export function planRestore(
  settings: Settings,
  from: string,
  manifest: Pick<BackupManifest, 'files' | 'masterKeyId'>,
  ours: readonly string[],
): RestorePlan {
  const keyFiles = keyFilesOf(settings);
  const offDisk = masterKeyGiven(settings, manifest.masterKeyId);
  const targets: RestoreTarget[] = [];
  const inData: string[] = [];
  const elsewhere: string[] = [];
  for (const file of manifest.files) {
    if (offDisk && file.path === MASTER_KEY) continue;
    const target = keyFiles.get(file.path) ?? join(settings.data, file.path);
    if (keyFiles.has(file.path) && existsSync(target) && !ours.includes(target)) {
      if (readFileSync(target).equals(readFileSync(join(from, file.path)))) continue;
      throw new BackupError(
        'RESTORE_KEY_FILE_EXISTS',
        `${target} (where the settings put ${file.path}) holds another key than the backup's: a restore never overwrites a key; move it aside, or name another path in the settings, then run palisade restore again`,
      );
    }
    targets.push({ file, target });
    const inside = relative(settings.data, target);
    if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside))
      elsewhere.push(target);
    else inData.push(inside);
  }
  return { targets, inData, elsewhere };
}

/**
 * The folders that do not exist yet above `files` (absolute paths), deepest first: what a
 * restore makes to put them in place, and removes again when it fails.
 */
export function foldersToMake(files: readonly string[]): string[] {
  const made = new Set<string>();
  for (const file of files) {
    for (let dir = dirname(file); !existsSync(dir) && dirname(dir) !== dir; dir = dirname(dir))
      made.add(dir);
  }
  return [...made].sort((a, b) => b.length - a.length);
}
