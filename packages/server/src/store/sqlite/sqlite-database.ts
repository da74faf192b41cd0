import { DatabaseSync } from 'node:sqlite';

/** A forward-only schema change; versions are dense from 1 and never edited once released. */
export interface Migration {
  readonly version: number;
  readonly sql: string;
}

/**
 * Opens a SQLite file the way every Palisade file is opened: WAL so readers never block the
 * writer, synchronous=FULL so a commit is fsync'd before it returns (acknowledged means
 * durable), a busy timeout for the rare second process (the CLI), foreign keys on.
 */
export function openSqlite(path: string, options: { readOnly?: boolean } = {}): DatabaseSync {
  const db = new DatabaseSync(path, { readOnly: options.readOnly ?? false, timeout: 5000 });
  if (!options.readOnly) switchToWal(db);
  db.exec('PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON');
  return db;
}

/** Tries to switch a new file to WAL, WAL_SWITCH_RETRY_MS apart, while another opens it too. */
const WAL_SWITCH_ATTEMPTS = 100;
const WAL_SWITCH_RETRY_MS = 10;
const SQLITE_BUSY = 5;

/**
 * The switch of a new file to WAL needs its exclusive lock, and SQLite reports a second
 * process opening the same new file as busy at once, without waiting the busy timeout.
 */
function switchToWal(db: DatabaseSync): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 1; ; attempt++) {
    try {
      db.exec('PRAGMA journal_mode = WAL');
      return;
    } catch (error) {
      const busy = (error as { errcode?: number }).errcode === SQLITE_BUSY;
      if (!busy || attempt === WAL_SWITCH_ATTEMPTS) throw error;
      Atomics.wait(pause, 0, 0, WAL_SWITCH_RETRY_MS);
    }
  }
}

/**
 * Applies the migrations newer than the file's `user_version`, each in its own transaction,
 * in which the version is read again: another process may have applied it meanwhile.
 */
export function migrateSqlite(db: DatabaseSync, migrations: readonly Migration[]): void {
  const statement = db.prepare('PRAGMA user_version');
  const version = () => (statement.get() as { user_version: number }).user_version;
  for (const migration of migrations) {
    if (migration.version <= version()) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      if (migration.version > version()) {
        db.exec(migration.sql);
        db.exec(`PRAGMA user_version = ${migration.version}`);
      }
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }
}
