/**
 * One server per data folder. SQLite files and the in-process bus under DATA belong to the
 * process that opened them: a second server on the same folder would run its own caches,
 * group committer and ledger appender over the same tenant files. A server that keeps any of
 * them there holds `DATA/server.lock` exclusively for its whole life: a SQLite write lock,
 * which the operating system drops when the process dies, so a server killed with SIGKILL
 * never blocks the next start. `DATA/server.pid` names the holder for a refusal; it is
 * informational only, the lock alone decides.
 */

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ConfigError } from '../config/index.ts';

const SQLITE_BUSY = 5;

/** What `DATA/server.pid` records about the server holding the folder. */
interface Holder {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

function readHolder(file: string): Holder | undefined {
  try {
    const holder = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
    return typeof holder.pid === 'number' && typeof holder.host === 'string'
      ? { pid: holder.pid, host: holder.host, since: String(holder.since) }
      : undefined;
  } catch {
    return undefined;
  }
}

function inUse(data: string, holder: Holder | undefined): ConfigError {
  const who =
    holder === undefined
      ? 'another Palisade server'
      : `another Palisade server (pid ${holder.pid} on ${holder.host}, since ${holder.since})`;
  const stop = holder === undefined ? 'stop it' : `stop it (kill -TERM ${holder.pid})`;
  return new ConfigError(
    `${who} is running on the data folder ${data}; ${stop}, or give this server a data folder of its own (--data)`,
  );
}

/** Takes the data folder for this server, or throws a ConfigError naming the server that has it. */
export function acquireDataFolderLock(data: string): { release(): Promise<void> } {
  const pidFile = join(data, 'server.pid');
  const db = new DatabaseSync(join(data, 'server.lock'), { timeout: 0 });
  try {
    db.exec('CREATE TABLE IF NOT EXISTS server_lock (id INTEGER PRIMARY KEY)');
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    db.close();
    if ((error as { errcode?: number }).errcode === SQLITE_BUSY)
      throw inUse(data, readHolder(pidFile));
    throw error;
  }
  const holder: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  writeFileSync(pidFile, `${JSON.stringify(holder)}\n`, { mode: 0o600 });
  return {
    release: async () => {
      if (!db.isOpen) return;
      // Removed while the lock is still held, so it never names the next holder wrongly.
      rmSync(pidFile, { force: true });
      db.exec('ROLLBACK');
      db.close();
    },
  };
}
