/**
 * The witness's durable memory: for each log origin, the latest checkpoint it cosigned.
 *
 * One SQLite file with synchronous=FULL, so a cosignature is never returned for a state a
 * crash could lose. Every advance is a compare-and-swap on the previous (size, root): of two
 * requests (or two processes sharing the file) that start from the same record, only one
 * moves the origin; the other sees zero changed rows and is refused. A trigger makes a
 * rollback of the size impossible even for a buggy caller.
 */
import { DatabaseSync } from 'node:sqlite';
import type { WitnessRecord } from '@palisade/ledger';
import { ConfigError } from '../config/index.ts';

/** The schema version kept in `PRAGMA user_version`. */
const SCHEMA_VERSION = 1;
/** How long a write waits for a second process holding the file's lock. */
const BUSY_TIMEOUT_MS = 5000;

const SCHEMA = `
CREATE TABLE witness_checkpoint (
  origin TEXT PRIMARY KEY,
  size INTEGER NOT NULL CHECK (size >= 0),
  root BLOB NOT NULL CHECK (length(root) = 32),
  checkpoint TEXT NOT NULL
) STRICT;
CREATE TRIGGER witness_checkpoint_no_rollback BEFORE UPDATE ON witness_checkpoint
WHEN NEW.size < OLD.size OR NEW.origin <> OLD.origin
BEGIN SELECT RAISE(ABORT, 'a witness never rolls back a log'); END;
`;

/** The latest cosigned checkpoint for one origin, with the signed note as received. */
export interface StoredCheckpoint extends WitnessRecord {
  readonly origin: string;
  /** The log-signed checkpoint note the witness cosigned. */
  readonly checkpoint: string;
}

interface Row {
  origin: string;
  size: number;
  root: Uint8Array;
  checkpoint: string;
}

/** The witness state file. Synchronous: every call is one SQLite statement. */
export class WitnessState {
  readonly #db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Opens (creating if needed) the state file at `path`. */
  static open(path: string): WitnessState {
    const db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
    try {
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = FULL');
      const { user_version: version } = db.prepare('PRAGMA user_version').get() as {
        user_version: number;
      };
      if (version > SCHEMA_VERSION)
        throw new ConfigError(`${path} has witness state version ${version}, newer than this`);
      if (version < SCHEMA_VERSION) {
        db.exec('BEGIN IMMEDIATE');
        db.exec(SCHEMA);
        db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
        db.exec('COMMIT');
      }
      return new WitnessState(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** The latest cosigned checkpoint for `origin`, if any. */
  get(origin: string): StoredCheckpoint | undefined {
    const row = this.#db
      .prepare('SELECT origin, size, root, checkpoint FROM witness_checkpoint WHERE origin = ?')
      .get(origin) as Row | undefined;
    return row === undefined ? undefined : { ...row, root: new Uint8Array(row.root) };
  }

  /** Every origin's latest cosigned checkpoint, by origin. */
  all(): StoredCheckpoint[] {
    const rows = this.#db
      .prepare('SELECT origin, size, root, checkpoint FROM witness_checkpoint ORDER BY origin')
      .all() as unknown as Row[];
    return rows.map((row) => ({ ...row, root: new Uint8Array(row.root) }));
  }

  /**
   * Records `next` for `origin` if the stored record is still `previous` (none, for the
   * first checkpoint). Returns false, changing nothing, when another request got there first.
   * Durable when it returns true.
   */
  advance(
    origin: string,
    previous: WitnessRecord | undefined,
    next: WitnessRecord,
    checkpoint: string,
  ): boolean {
    const result =
      previous === undefined
        ? this.#db
            .prepare(
              'INSERT INTO witness_checkpoint (origin, size, root, checkpoint) VALUES (?, ?, ?, ?) ON CONFLICT (origin) DO NOTHING',
            )
            .run(origin, next.size, next.root, checkpoint)
        : this.#db
            .prepare(
              'UPDATE witness_checkpoint SET size = ?, root = ?, checkpoint = ? WHERE origin = ? AND size = ? AND root = ?',
            )
            .run(next.size, next.root, checkpoint, origin, previous.size, previous.root);
    return Number(result.changes) === 1;
  }

  /** Closes the file. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
