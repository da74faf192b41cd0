import { closeSync, existsSync, fsyncSync, openSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { BusKind } from '../bus.ts';
import type { CheckedEvent } from '../subjects.ts';

/** A stored message as the in-process stream hands it to a consumer. */
export interface StoredMessage {
  readonly seq: number;
  readonly id: string;
  readonly tenant: string;
  readonly kind: BusKind;
  readonly subject: string;
  readonly payload: string;
  readonly deliveries: number;
}

/** Where a durable consumer reads: one tenant's or every tenant's events, one kind or all. */
export interface ConsumerFilter {
  readonly tenant: string | null;
  readonly kind: BusKind | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  payload TEXT NOT NULL,
  at INTEGER NOT NULL,
  UNIQUE (tenant, id)
);
CREATE INDEX IF NOT EXISTS messages_tenant ON messages (tenant, seq);
DROP INDEX IF EXISTS messages_kind;
DROP INDEX IF EXISTS messages_tenant_kind;
CREATE INDEX IF NOT EXISTS messages_sparse_kind ON messages (kind, seq) WHERE kind <> 'telemetry';
CREATE INDEX IF NOT EXISTS messages_sparse_tenant_kind ON messages (tenant, kind, seq)
  WHERE kind <> 'telemetry';
CREATE TABLE IF NOT EXISTS consumers (
  name TEXT PRIMARY KEY,
  tenant TEXT,
  kind TEXT,
  delivered INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS pending (
  consumer TEXT NOT NULL,
  seq INTEGER NOT NULL,
  deliveries INTEGER NOT NULL,
  due INTEGER NOT NULL,
  PRIMARY KEY (consumer, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS transient_consumers (name TEXT PRIMARY KEY) WITHOUT ROWID;
`;

/**
 * The kind that makes up most of the stream. Kind indexes leave it out (partial indexes), so
 * a telemetry message costs two index entries fewer: a consumer of telemetry walks the stream
 * (or its tenant's part) in order and skips the few other messages, while a consumer of a
 * sparse kind finds its next message through the index. Since what a consumer has walked past
 * is recorded, no message is walked over twice.
 */
const DENSE_KIND: BusKind = 'telemetry';

const NEXT_BY_FILTER = {
  all: 'SELECT * FROM messages WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 1',
  kind: `SELECT * FROM messages INDEXED BY messages_sparse_kind WHERE kind = ? AND kind <> '${DENSE_KIND}' AND seq > ? AND seq <= ? ORDER BY kind, seq LIMIT 1`,
  denseKind: `SELECT * FROM messages WHERE seq > ? AND seq <= ? AND kind = '${DENSE_KIND}' ORDER BY seq LIMIT 1`,
  tenant:
    'SELECT * FROM messages WHERE tenant = ? AND seq > ? AND seq <= ? ORDER BY tenant, seq LIMIT 1',
  both: `SELECT * FROM messages INDEXED BY messages_sparse_tenant_kind WHERE tenant = ? AND kind = ? AND kind <> '${DENSE_KIND}' AND seq > ? AND seq <= ? ORDER BY tenant, kind, seq LIMIT 1`,
  tenantDenseKind: `SELECT * FROM messages WHERE tenant = ? AND seq > ? AND seq <= ? AND kind = '${DENSE_KIND}' ORDER BY tenant, seq LIMIT 1`,
} as const;

type Row = Record<string, string | number | null>;

/**
 * Most of an erased tenant's messages deleted per transaction: the erasure yields to the event
 * loop between batches, so a tenant with a long retained stream holds no request up for long.
 */
const ERASE_BATCH_MESSAGES = 2000;

/** An append committed to the WAL and waiting for the fsync that makes it durable. */
interface Unsynced {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The in-process bus's durable state in one SQLite file: the stream (`messages`, unique per
 * tenant and id, so a republished event is stored once), each durable consumer's filter and
 * delivery position, and its unacked deliveries with their redelivery time. node:sqlite is
 * synchronous, so each claim below is atomic on the event loop without a lock.
 *
 * Every transaction commits to the WAL without fsync. An append is durable, and its promise
 * resolves, once an fsync of the WAL that began after its commit has completed; those fsyncs
 * run on libuv's thread pool, one at a time, each covering every append committed before it
 * began (group commit). Until then consumers are not handed the appended messages, so nothing
 * is delivered that a power cut could take back. Consumer state is never fsync'd on its own
 * (losing it only redelivers).
 */
export class StreamFile {
  readonly #db: DatabaseSync;
  readonly #walPath: string;
  readonly #insert: StatementSync;
  readonly #next: { [K in keyof typeof NEXT_BY_FILTER]: StatementSync };
  readonly #due: StatementSync;
  readonly #nextDue: StatementSync;
  /** Appends committed since the running fsync began, for the next one. */
  readonly #unsynced: Unsynced[] = [];
  /** The highest seq committed to the WAL. */
  #committedSeq: number;
  /** The highest seq made durable: consumers are handed nothing beyond it. */
  #durableSeq: number;
  #syncing: Promise<void> | undefined;
  #wal: Promise<FileHandle> | undefined;

  constructor(path: string) {
    this.#db = new DatabaseSync(path, { timeout: 5000 });
    this.#walPath = `${path}-wal`;
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL');
    // Freed space is overwritten with zeros from the start, not only while a tenant is erased:
    // without it, a page split or a purge leaves old copies of a message's bytes in space the
    // file no longer uses, which erasing the message later cannot reach.
    this.#db.exec('PRAGMA secure_delete = ON');
    this.#db.exec(SCHEMA);
    this.#db.exec(`BEGIN;
      DELETE FROM pending WHERE consumer IN (SELECT name FROM transient_consumers);
      DELETE FROM consumers WHERE name IN (SELECT name FROM transient_consumers);
      DELETE FROM transient_consumers;
      COMMIT`);
    // What an earlier process committed may not have reached the disk if it died before
    // its fsync: make it durable before it counts as such.
    if (existsSync(this.#walPath)) {
      const fd = openSync(this.#walPath, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    this.#durableSeq = Number(
      (this.#db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM messages').get() as Row).seq,
    );
    this.#committedSeq = this.#durableSeq;
    this.#insert = this.#db.prepare(
      'INSERT INTO messages (tenant, id, kind, subject, payload, at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO NOTHING',
    );
    this.#next = {
      all: this.#db.prepare(NEXT_BY_FILTER.all),
      kind: this.#db.prepare(NEXT_BY_FILTER.kind),
      denseKind: this.#db.prepare(NEXT_BY_FILTER.denseKind),
      tenant: this.#db.prepare(NEXT_BY_FILTER.tenant),
      both: this.#db.prepare(NEXT_BY_FILTER.both),
      tenantDenseKind: this.#db.prepare(NEXT_BY_FILTER.tenantDenseKind),
    };
    this.#due = this.#db.prepare(
      'SELECT m.*, p.deliveries FROM pending p JOIN messages m ON m.seq = p.seq WHERE p.consumer = ? AND p.due <= ? ORDER BY p.seq LIMIT 1',
    );
    this.#nextDue = this.#db.prepare('SELECT min(due) AS due FROM pending WHERE consumer = ?');
  }

  /**
   * Appends events in one transaction, skipping ids already stored for the tenant; resolves
   * once they are durable (see the class comment). Throws at once if the commit fails.
   */
  append(events: readonly CheckedEvent[], at: number): Promise<void> {
    const seq = this.#transaction(() => {
      let last = 0;
      for (const e of events) {
        const result = this.#insert.run(e.tenantId, e.id, e.kind, e.subject, e.json, at);
        if (result.changes > 0) last = Number(result.lastInsertRowid);
      }
      return last;
    });
    this.#committedSeq = Math.max(this.#committedSeq, seq);
    return new Promise((resolve, reject) => {
      this.#unsynced.push({ resolve, reject });
      this.#sync();
    });
  }

  #sync(): void {
    if (this.#syncing !== undefined || this.#unsynced.length === 0) return;
    const group = this.#unsynced.splice(0);
    // Every commit so far, the group's and any whose own fsync failed (their rows stand, and
    // a retried append of them dedupes to nothing new), is covered by this fsync.
    const upTo = this.#committedSeq;
    this.#wal ??= open(this.#walPath, 'r');
    this.#syncing = this.#wal
      .then((wal) => wal.sync())
      .then(
        () => {
          this.#durableSeq = Math.max(this.#durableSeq, upTo);
          for (const append of group) append.resolve();
        },
        (error: unknown) => {
          for (const append of group) append.reject(error);
          // The next fsync opens the WAL afresh rather than reuse a handle that failed.
          const failed = this.#wal;
          this.#wal = undefined;
          void failed?.then((wal) => wal.close()).catch(() => undefined);
        },
      )
      .finally(() => {
        this.#syncing = undefined;
        this.#sync();
      });
  }

  /**
   * Creates the consumer, or returns the filter it already has. A transient consumer is
   * deleted when the file is next opened: its subscriber was in a process that has ended.
   */
  ensureConsumer(
    name: string,
    filter: ConsumerFilter,
    from: 'all' | 'new' = 'all',
    transient = false,
  ): ConsumerFilter {
    if (transient)
      this.#db.prepare('INSERT OR IGNORE INTO transient_consumers (name) VALUES (?)').run(name);
    this.#db
      .prepare(
        `INSERT INTO consumers (name, tenant, kind, delivered)
         VALUES (?, ?, ?, CASE WHEN ? = 'new' THEN (SELECT coalesce(max(seq), 0) FROM messages) ELSE 0 END)
         ON CONFLICT (name) DO NOTHING`,
      )
      .run(name, filter.tenant, filter.kind, from);
    const row = this.#db
      .prepare('SELECT tenant, kind FROM consumers WHERE name = ?')
      .get(name) as Row;
    return { tenant: row.tenant as string | null, kind: row.kind as BusKind | null };
  }

  deleteConsumer(name: string): void {
    this.#transaction(() => {
      this.#db.prepare('DELETE FROM pending WHERE consumer = ?').run(name);
      this.#db.prepare('DELETE FROM consumers WHERE name = ?').run(name);
      this.#db.prepare('DELETE FROM transient_consumers WHERE name = ?').run(name);
    });
  }

  /**
   * The consumer's next delivery: a due redelivery first (dropping those that reached
   * `maxDeliver`), else the next new message its filter matches. Records the delivery.
   */
  claim(
    name: string,
    filter: ConsumerFilter,
    now: number,
    ackWaitMs: number,
    maxDeliver: number,
  ): StoredMessage | undefined {
    return this.#transaction(() => {
      for (;;) {
        const due = this.#due.get(name, now) as Row | undefined;
        if (due === undefined) break;
        const deliveries = Number(due.deliveries);
        if (deliveries >= maxDeliver) {
          this.settle(name, Number(due.seq));
          continue;
        }
        this.#db
          .prepare('UPDATE pending SET deliveries = ?, due = ? WHERE consumer = ? AND seq = ?')
          .run(deliveries + 1, now + ackWaitMs, name, Number(due.seq));
        return stored(due, deliveries + 1);
      }
      const delivered = (
        this.#db.prepare('SELECT delivered FROM consumers WHERE name = ?').get(name) as
          | Row
          | undefined
      )?.delivered;
      if (delivered === undefined) return undefined;
      const upTo = this.#durableSeq;
      const row = this.#nextMatching(filter, Number(delivered), upTo);
      if (row === undefined) {
        // Nothing up to upTo matches (every seq up to it is committed): skip it next time.
        if (upTo > Number(delivered))
          this.#db.prepare('UPDATE consumers SET delivered = ? WHERE name = ?').run(upTo, name);
        return undefined;
      }
      this.#db
        .prepare('INSERT INTO pending (consumer, seq, deliveries, due) VALUES (?, ?, 1, ?)')
        .run(name, Number(row.seq), now + ackWaitMs);
      this.#db
        .prepare('UPDATE consumers SET delivered = ? WHERE name = ?')
        .run(Number(row.seq), name);
      return stored(row, 1);
    });
  }

  /** Ack (or drop): the delivery is never repeated. */
  settle(name: string, seq: number): void {
    this.#db.prepare('DELETE FROM pending WHERE consumer = ? AND seq = ?').run(name, seq);
  }

  /** Nak: redeliver at `due`, if still pending. */
  reschedule(name: string, seq: number, due: number): void {
    this.#db
      .prepare('UPDATE pending SET due = ? WHERE consumer = ? AND seq = ?')
      .run(due, name, seq);
  }

  /** When the consumer's earliest unacked delivery is due again; undefined when none is. */
  nextDue(name: string): number | undefined {
    const due = (this.#nextDue.get(name) as Row).due;
    return due === null ? undefined : Number(due);
  }

  /**
   * Erases the tenant's messages, the deliveries pending on them and its own consumers (their
   * bytes overwritten: `secure_delete` is on), then copies the WAL into the file and empties
   * it, where the pages as they were would otherwise stay. The messages go in batches of
   * ERASE_BATCH_MESSAGES, one transaction each with a turn of the event loop in between; the
   * caller stores nothing more of the tenant meanwhile. Throws when another connection holds
   * that checkpoint off (the rows are gone; retrying finishes it).
   */
  async eraseTenant(tenant: string): Promise<void> {
    while (this.#transaction(() => deleteTenantMessages(this.#db, tenant, ERASE_BATCH_MESSAGES)))
      await new Promise<void>((resolve) => setImmediate(resolve));
    // What is left, in one transaction: the consumers, their deliveries, any stray message.
    this.#transaction(() => deleteTenantRows(this.#db, tenant));
    const { busy } = this.#db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as Row;
    if (busy !== 0)
      throw new Error(
        'the erased tenant messages are still in bus.db-wal: another connection kept the checkpoint from emptying it; retry the deletion',
      );
  }

  /** Removes messages stored before `before`, and deliveries pending on them. */
  purge(before: number): void {
    this.#transaction(() => {
      const last = (
        this.#db.prepare('SELECT max(seq) AS seq FROM messages WHERE at < ?').get(before) as Row
      ).seq;
      if (last === null || last === undefined) return;
      this.#db.prepare('DELETE FROM messages WHERE seq <= ?').run(last);
      this.#db.prepare('DELETE FROM pending WHERE seq <= ?').run(last);
    });
  }

  get isClosed(): boolean {
    return !this.#db.isOpen;
  }

  /** Waits for the appends in flight to become durable (or fail), then closes the file. */
  async close(): Promise<void> {
    while (this.#syncing !== undefined) await this.#syncing;
    await (await this.#wal?.catch(() => undefined))?.close();
    if (this.#db.isOpen) this.#db.close();
  }

  #nextMatching(filter: ConsumerFilter, after: number, upTo: number): Row | undefined {
    const { tenant, kind } = filter;
    if (tenant !== null && kind === DENSE_KIND)
      return this.#next.tenantDenseKind.get(tenant, after, upTo) as Row | undefined;
    if (tenant !== null && kind !== null)
      return this.#next.both.get(tenant, kind, after, upTo) as Row | undefined;
    if (tenant !== null) return this.#next.tenant.get(tenant, after, upTo) as Row | undefined;
    if (kind === DENSE_KIND) return this.#next.denseKind.get(after, upTo) as Row | undefined;
    if (kind !== null) return this.#next.kind.get(kind, after, upTo) as Row | undefined;
    return this.#next.all.get(after, upTo) as Row | undefined;
  }

  #transaction<T>(work: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }
}

/**
 * Deletes up to `limit` of a tenant's oldest messages and the deliveries pending on them, in
 * the caller's transaction; answers whether it found `limit` (more may remain).
 */
function deleteTenantMessages(db: DatabaseSync, tenant: string, limit: number): boolean {
  const { last, found } = db
    .prepare(
      'SELECT max(seq) AS last, count(*) AS found FROM (SELECT seq FROM messages WHERE tenant = ? ORDER BY tenant, seq LIMIT ?)',
    )
    .get(tenant, limit) as Row;
  if (last === null || last === undefined) return false;
  db.prepare(
    'DELETE FROM pending WHERE seq IN (SELECT seq FROM messages WHERE tenant = ? AND seq <= ?)',
  ).run(tenant, last);
  db.prepare('DELETE FROM messages WHERE tenant = ? AND seq <= ?').run(tenant, last);
  return found === limit;
}

/**
 * Deletes a tenant's messages, its consumers and their pending deliveries from a stream file
 * (`bus.db`, or a backup's copy of one), in the caller's transaction. Other tenants' consumers
 * keep their place.
 */
export function deleteTenantRows(db: DatabaseSync, tenant: string): void {
  db.prepare(
    'DELETE FROM pending WHERE seq IN (SELECT seq FROM messages WHERE tenant = ?) OR consumer IN (SELECT name FROM consumers WHERE tenant = ?)',
  ).run(tenant, tenant);
  db.prepare('DELETE FROM messages WHERE tenant = ?').run(tenant);
  db.prepare(
    'DELETE FROM transient_consumers WHERE name IN (SELECT name FROM consumers WHERE tenant = ?)',
  ).run(tenant);
  db.prepare('DELETE FROM consumers WHERE tenant = ?').run(tenant);
}

function stored(row: Row, deliveries: number): StoredMessage {
  return {
    seq: Number(row.seq),
    id: String(row.id),
    tenant: String(row.tenant),
    kind: row.kind as BusKind,
    subject: String(row.subject),
    payload: String(row.payload),
    deliveries,
  };
}
