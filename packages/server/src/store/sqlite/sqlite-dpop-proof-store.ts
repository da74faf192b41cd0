import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { DpopProofStore } from '../dpop-proof-types.ts';
import { type Migration, migrateSqlite, openSqlite } from './sqlite-database.ts';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    // No index by tenant: the file holds only this server's proofs of the last minute or so,
    // so a tenant's deletion may scan them, and each DPoP request writes one index less.
    sql: `
      CREATE TABLE dpop_proofs (
        digest BLOB PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        until INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX dpop_proofs_by_until ON dpop_proofs (until);
    `,
  },
];

/** The WAL is cut back to this size after a checkpoint that emptied it (bytes). */
const WAL_KEPT_BYTES = 64 * 1024 * 1024;

/**
 * The accepted DPoP proofs in `DATA/dpop-proofs.db`, apart from `platform.db` because they are
 * written otherwise: in WAL with synchronous=NORMAL a commit is written to the WAL but not
 * fsync'd, so it survives the process's crash (the operating system has it) though maybe not
 * the machine's, which forgets the proofs written since the last checkpoint and never corrupts
 * the file. SQLite's automatic checkpoints are off, since the request whose commit ran one
 * would pay its fsyncs: each `sweep` checkpoints instead, so the WAL holds what was written
 * since the last pass.
 * The file opens at its first use, so tools that open the control plane never create it.
 */
export class SqliteDpopProofs implements DpopProofStore {
  readonly #path: string;
  #db: DatabaseSync | undefined;
  #closed = false;
  readonly #statements = new Map<string, StatementSync>();

  constructor(path: string) {
    this.#path = path;
  }

  #sql(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#open().prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #open(): DatabaseSync {
    if (this.#db !== undefined) return this.#db;
    if (this.#closed) throw new Error(`${this.#path} is closed`);
    const db = openSqlite(this.#path);
    try {
      db.exec(
        `PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = ${WAL_KEPT_BYTES}`,
      );
      migrateSqlite(db, MIGRATIONS);
    } catch (error) {
      db.close();
      throw error;
    }
    this.#db = db;
    return db;
  }

  async remember(
    digest: Uint8Array,
    tenantId: string,
    until: number,
    now: number,
  ): Promise<boolean> {
    // A row whose window ended but is not swept yet is taken over, as if it had been.
    const { changes } = this.#sql(
      `INSERT INTO dpop_proofs (digest, tenant_id, until) VALUES (?, ?, ?)
       ON CONFLICT (digest) DO UPDATE SET tenant_id = excluded.tenant_id, until = excluded.until
       WHERE dpop_proofs.until < ?`,
    ).run(digest, tenantId, until, now);
    return Number(changes) === 1;
  }

  async sweep(now: number, limit: number): Promise<number> {
    const { changes } = this.#sql(
      `DELETE FROM dpop_proofs WHERE digest IN (
         SELECT digest FROM dpop_proofs WHERE until < ? ORDER BY until LIMIT ?)`,
    ).run(now, limit);
    this.#sql('PRAGMA wal_checkpoint(PASSIVE)').get();
    return Number(changes);
  }

  async eraseTenant(tenantId: string): Promise<void> {
    this.#sql('DELETE FROM dpop_proofs WHERE tenant_id = ?').run(tenantId);
  }

  close(): void {
    this.#closed = true;
    if (this.#db?.isOpen === true) this.#db.close();
    this.#db = undefined;
    this.#statements.clear();
  }
}
