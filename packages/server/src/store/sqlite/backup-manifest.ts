/**
 * A backup's `backup.json`: what `palisade backup` wrote (each file's size and SHA-256), and
 * the checks a restore makes of it before writing anything. A manifest is read as untrusted
 * input: a folder another tool wrote, or a damaged or edited one, is refused with a reason
 * rather than half restored.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export const BACKUP_FORMAT = 'palisade-backup/v1';
export const MANIFEST = 'backup.json';
/** The control plane: a backup holds it always, and a restore puts it in place last. */
export const CONTROL_PLANE = 'platform.db';
/** A relative path of a backed-up file: no absolute path, no empty or special segment. */
const SAFE_PATH = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export type BackupErrorCode =
  | 'BACKUP_NOT_EMBEDDED'
  | 'BACKUP_NO_PLATFORM'
  | 'BACKUP_TARGET_EXISTS'
  | 'BACKUP_UNREADABLE'
  | 'BACKUP_CORRUPT'
  | 'RESTORE_TARGET_NOT_EMPTY'
  | 'RESTORE_KEY_FILE_EXISTS'
  | 'RESTORE_MASTER_KEY_MISMATCH'
  | 'RESTORE_FAILED';

/** Why a backup or restore was refused or failed; the message says what to do. */
export class BackupError extends Error {
  readonly code: BackupErrorCode;
  constructor(code: BackupErrorCode, message: string) {
    super(message);
    this.name = 'BackupError';
    this.code = code;
  }
}

export interface BackupFile {
  /** Relative to the data folder (and to the backup), `/`-separated. */
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface BackupManifest {
  readonly format: typeof BACKUP_FORMAT;
  readonly createdAt: string;
  /** Public id of the master key the tenant keys are sealed under; null with no tenant key. */
  readonly masterKeyId: string | null;
  readonly includesMasterKey: boolean;
  readonly files: readonly BackupFile[];
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The file at `path` under `root` as a manifest lists it, once it is on disk. */
export async function described(root: string, path: string): Promise<BackupFile> {
  const full = join(root, path);
  await fsyncPath(full);
  return { path, bytes: (await stat(full)).size, sha256: await sha256Of(full) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why `value` is not a file entry `palisade backup` writes, or undefined when it is one. */
function badFile(value: unknown): string | undefined {
  if (!isObject(value)) return `a file entry ${JSON.stringify(value)} is not an object`;
  const { path, bytes, sha256 } = value;
  if (typeof path !== 'string' || !SAFE_PATH.test(path))
    return `it names a file outside it (${JSON.stringify(path)})`;
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0)
    return `the size of ${path} is not a byte count (${JSON.stringify(bytes)})`;
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256))
    return `the hash of ${path} is not a SHA-256 in hex (${JSON.stringify(sha256)})`;
  return undefined;
}

/** Why `value` is not a manifest `palisade backup` writes, or undefined when it is one. */
function badManifest(value: unknown): string | undefined {
  if (!isObject(value)) return 'it is not a JSON object';
  if (value.format !== BACKUP_FORMAT)
    return `its format is ${JSON.stringify(value.format)}, not ${BACKUP_FORMAT}`;
  if (typeof value.createdAt !== 'string') return 'it has no createdAt';
  if (value.masterKeyId !== null && typeof value.masterKeyId !== 'string')
    return 'its masterKeyId is neither a key id nor null';
  if (typeof value.includesMasterKey !== 'boolean') return 'it has no includesMasterKey';
  if (!Array.isArray(value.files)) return 'it has no list of files';
  const seen = new Set<string>();
  for (const file of value.files as unknown[]) {
    const bad = badFile(file);
    if (bad !== undefined) return bad;
    const { path } = file as BackupFile;
    if (seen.has(path)) return `it lists ${path} twice`;
    seen.add(path);
  }
  if (!seen.has(CONTROL_PLANE)) return `it lists no ${CONTROL_PLANE} (the control plane)`;
  return undefined;
}

/** The manifest of the backup in `from`, or BACKUP_UNREADABLE saying what is wrong with it. */
export async function readManifest(from: string): Promise<BackupManifest> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(join(from, MANIFEST), 'utf8'));
  } catch (error) {
    throw new BackupError(
      'BACKUP_UNREADABLE',
      `${join(from, MANIFEST)} cannot be read (${(error as Error).message}): name a folder palisade backup wrote`,
    );
  }
  const bad = badManifest(manifest);
  if (bad !== undefined)
    throw new BackupError(
      'BACKUP_UNREADABLE',
      `${join(from, MANIFEST)} is not a manifest palisade backup wrote: ${bad}; restore from another backup`,
    );
  return manifest as BackupManifest;
}

/** Checks every file of a backup against its manifest, and each database's integrity. */
export async function checkBackup(from: string, manifest: BackupManifest): Promise<void> {
  for (const file of manifest.files) {
    const full = join(from, file.path);
    const actual = existsSync(full) ? await described(from, file.path) : undefined;
    if (actual?.bytes !== file.bytes || actual.sha256 !== file.sha256)
      throw new BackupError(
        'BACKUP_CORRUPT',
        `${file.path} of the backup is missing or changed since it was written: restore from another backup`,
      );
    if (!file.path.endsWith('.db')) continue;
    const result = integrity(full);
    if (result !== 'ok')
      throw new BackupError(
        'BACKUP_CORRUPT',
        `${file.path} of the backup fails SQLite's integrity check (${result}): restore from another backup`,
      );
  }
}

/** SQLite's integrity check of the file at `path`: `ok`, or what it found. */
function integrity(path: string): string {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path, { readOnly: true });
    const row = db.prepare('PRAGMA integrity_check').get() as { integrity_check: string };
    return row.integrity_check;
  } catch (error) {
    // A file that is no SQLite database at all (`file is not a database`).
    return (error as Error).message;
  } finally {
    db?.close();
  }
}
