/**
 * Which processes may open a platform at once. Every server process holds the platform's
 * running lock shared for its whole life; `palisade keys rotate-master`, which must run with
 * every server stopped (a server keeps the old master key in memory and would seal new KEKs
 * under it), takes it exclusively, so it refuses while any server runs and a server refuses
 * to start while a rotation runs.
 *
 * With SQLite the lock is a read transaction on `DATA/running.lock` (a rollback-journal
 * SQLite file, so a reader holds a shared file lock that a writer cannot pass); the operating
 * system drops it when the process dies. With PostgreSQL it is a session advisory lock in the
 * control-plane database, on a connection of its own, dropped when that connection ends.
 *
 * A server whose data folder holds SQLite files or the in-process bus also owns that folder
 * (`ownDataFolder`, data-folder-lock.ts), so no second server starts on it.
 */

import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { ConfigError, type Settings } from '../config/index.ts';
import { acquireDataFolderLock } from './data-folder-lock.ts';

/** A held running lock. */
export interface RunningLock {
  release(): Promise<void>;
}

/** `shared` for a server process, `exclusive` for work that needs every server stopped. */
export type RunningLockMode = 'shared' | 'exclusive';

/** The advisory-lock key in the control-plane database, as leases make theirs. */
const ADVISORY_KEY = createHash('sha256')
  .update('palisade/running')
  .digest()
  .readBigInt64BE(0)
  .toString();

const SQLITE_BUSY = 5;

function refusal(settings: Settings, mode: RunningLockMode): ConfigError {
  const where =
    settings.database === undefined
      ? `data folder ${settings.data}`
      : 'database (the control plane named by --database)';
  return new ConfigError(
    mode === 'exclusive'
      ? `a Palisade server is running on the ${where}; stop every server process, then run this again`
      : `palisade keys rotate-master is running on the ${where}; start the server once it has finished`,
  );
}

/**
 * Takes the platform's running lock, or throws a ConfigError saying who holds it. With
 * `ownDataFolder` (a server that keeps SQLite files or the in-process bus under DATA) it also
 * takes the data folder for this process alone, refusing while another server has it.
 */
export async function acquireRunningLock(
  settings: Settings,
  mode: RunningLockMode,
  options: { readonly ownDataFolder?: boolean } = {},
): Promise<RunningLock> {
  mkdirSync(settings.data, { recursive: true, mode: 0o700 });
  const folder = options.ownDataFolder === true ? acquireDataFolderLock(settings.data) : undefined;
  let running: RunningLock;
  try {
    running =
      settings.database === undefined
        ? sqliteLock(settings, mode)
        : await postgresLock(settings, settings.database, mode);
  } catch (error) {
    await folder?.release();
    throw error;
  }
  if (folder === undefined) return running;
  return {
    release: async () => {
      await running.release();
      await folder.release();
    },
  };
}

function sqliteLock(settings: Settings, mode: RunningLockMode): RunningLock {
  const db = new DatabaseSync(join(settings.data, 'running.lock'), { timeout: 0 });
  try {
    db.exec('CREATE TABLE IF NOT EXISTS running_lock (id INTEGER PRIMARY KEY)');
    // A deferred transaction takes its shared lock at its first read and keeps it until it ends.
    db.exec(mode === 'shared' ? 'BEGIN' : 'BEGIN EXCLUSIVE');
    db.prepare('SELECT count(*) FROM running_lock').get();
  } catch (error) {
    db.close();
    if ((error as { errcode?: number }).errcode === SQLITE_BUSY) throw refusal(settings, mode);
    throw error;
  }
  return {
    release: async () => {
      if (!db.isOpen) return;
      db.exec('ROLLBACK');
      db.close();
    },
  };
}

async function postgresLock(
  settings: Settings,
  url: string,
  mode: RunningLockMode,
): Promise<RunningLock> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  const fn = mode === 'shared' ? 'pg_try_advisory_lock_shared' : 'pg_try_advisory_lock';
  try {
    const result = await client.query<{ ok: boolean }>(`SELECT ${fn}($1) AS ok`, [ADVISORY_KEY]);
    if (result.rows[0]?.ok !== true) throw refusal(settings, mode);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  // Unlocked before the connection ends: the server drops a session's locks only once its
  // backend has exited, after the client has already moved on.
  const unlock = mode === 'shared' ? 'pg_advisory_unlock_shared' : 'pg_advisory_unlock';
  return {
    release: async () => {
      await client.query(`SELECT ${unlock}($1)`, [ADVISORY_KEY]).catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}
