import { parseArgs } from 'node:util';
import {
  BackupError,
  type BackupManifest,
  type BackupProgress,
  backupPlatform,
  loadSettings,
  masterKeyFile,
  restorePlatform,
} from '@palisade/server';
import { CliError, EXIT, wantsHelp } from '../cli-error.ts';
import { settingFlags, settingOptions } from '../settings-flags.ts';

const BACKUP_USAGE = `usage: palisade backup --out DIR [--data DIR] [--include-master-key]
  copies the embedded (SQLite) platform into the new folder DIR, while servers run;
  without --include-master-key the backup holds no master key: keep that apart`;
const RESTORE_USAGE = `usage: palisade restore --from DIR [--data DIR]
  checks the backup in DIR, then restores it into an empty data folder (no server running)`;

/** How often progress is written when stderr is not a terminal. */
const PROGRESS_EVERY_MS = 1000;

function megabytes(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

/** A progress line per file on a terminal (rewritten in place), else about once a second. */
function progress(verb: string): BackupProgress {
  let last = 0;
  return ({ files, totalFiles, bytes }) => {
    const line = `${verb} ${files}/${totalFiles} files, ${megabytes(bytes)}`;
    if (process.stderr.isTTY) {
      process.stderr.write(`\r${line}${files === totalFiles ? '\n' : ''}`);
      return;
    }
    const now = Date.now();
    if (files === totalFiles || now - last >= PROGRESS_EVERY_MS) {
      last = now;
      process.stderr.write(`${line}\n`);
    }
  };
}

function parsed(argv: string[], own: Record<string, { type: 'string' | 'boolean' }>) {
  const { values } = parseArgs({
    args: argv,
    options: { ...settingOptions(), ...own },
    strict: true,
  });
  const settings = loadSettings({
    flags: settingFlags(values),
    env: process.env,
    configFile: (values as Record<string, unknown>).config as string | undefined,
  });
  return { values: values as Record<string, unknown>, settings };
}

function failed(error: unknown): never {
  if (!(error instanceof BackupError)) throw error;
  const usage = error.code === 'BACKUP_NOT_EMBEDDED' || error.code === 'BACKUP_TARGET_EXISTS';
  throw new CliError(error.message, usage ? EXIT.usage : EXIT.failed);
}

function keyNote(manifest: BackupManifest): string {
  if (manifest.masterKeyId === null) return 'no tenant keys yet';
  return manifest.includesMasterKey
    ? `master key ${manifest.masterKeyId} included`
    : `tenant keys sealed under master key ${manifest.masterKeyId}, which is not in the backup`;
}

/** `palisade backup --out DIR`: an online backup of the embedded platform. */
export async function backupCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) throw new CliError(BACKUP_USAGE, EXIT.ok);
  const { values, settings } = parsed(argv, {
    out: { type: 'string' },
    'include-master-key': { type: 'boolean' },
  });
  const out = values.out;
  if (typeof out !== 'string') throw new CliError(BACKUP_USAGE, EXIT.usage);
  const manifest = await backupPlatform(settings, out, {
    includeMasterKey: values['include-master-key'] === true,
    onProgress: progress('backed up'),
  }).catch(failed);
  const bytes = manifest.files.reduce((n, f) => n + f.bytes, 0);
  process.stdout.write(
    `backed up ${manifest.files.length} files (${megabytes(bytes)}) to ${out}; ${keyNote(manifest)}\n`,
  );
  return EXIT.ok;
}

/** `palisade restore --from DIR`: a checked restore into an empty data folder. */
export async function restoreCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) throw new CliError(RESTORE_USAGE, EXIT.ok);
  const { values, settings } = parsed(argv, { from: { type: 'string' } });
  const from = values.from;
  if (typeof from !== 'string') throw new CliError(RESTORE_USAGE, EXIT.usage);
  const manifest = await restorePlatform(settings, from, {
    onProgress: progress('restored'),
  }).catch(failed);
  const given = settings.masterKey !== undefined && manifest.masterKeyId !== null;
  const note = given
    ? `master key ${manifest.masterKeyId} given by PALISADE_MASTER_KEY, kept off the disk`
    : keyNote(manifest);
  process.stdout.write(
    `restored ${manifest.files.length} files into ${settings.data} from the backup of ${manifest.createdAt}; ${note}\n`,
  );
  if (manifest.masterKeyId !== null && !manifest.includesMasterKey && !given)
    process.stderr.write(
      `Start the server with master key ${manifest.masterKeyId}: its key file at ${masterKeyFile(settings)} (or --master-key-file), or PALISADE_MASTER_KEY / PALISADE_MASTER_PASSPHRASE.\n`,
    );
  return EXIT.ok;
}
