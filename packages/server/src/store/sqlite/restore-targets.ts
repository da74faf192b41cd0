/**
 * Where a restore puts each backed-up file. The databases go under the target's data folder;
 * the key files (`ledger-signing.json`, `master.key`) go where the target's `ledgerKeyFile`
 * and `masterKeyFile` settings say, which may be outside it: a server started with those
 * settings looks for them there, and would refuse to start (ledger key) or make or use another
 * key (master key) otherwise. A key file already there is kept when it is the backup's, and
 * refused when it is another: a restore never overwrites a key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { Settings } from '../../config/index.ts';
import { BackupError, type BackupManifest } from './backup-manifest.ts';
import { keyFilesOf } from './platform-backup.ts';

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
 * Where each of `files` (from the backup in `from`) goes for `settings`, leaving out a key file
 * already in place with the backup's content. `ours`: key files outside the data folder that a
 * stopped restore wrote, which it removes first. Throws RESTORE_KEY_FILE_EXISTS, before
 * anything is written, for a key file in place that is another key.
 */
export function planRestore(
  settings: Settings,
  from: string,
  files: readonly BackupManifest['files'][number][],
  ours: readonly string[],
): RestorePlan {
  const keyFiles = keyFilesOf(settings);
  const targets: RestoreTarget[] = [];
  const inData: string[] = [];
  const elsewhere: string[] = [];
  for (const file of files) {
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
