/**
 * Batches the platform refused for good (a message it can never take, a batch id it applied
 * with other content) are set aside here rather than resent forever in front of everything
 * behind them, or dropped. They stay in the outbox, sealed, until the operator retries or
 * discards them (`palisade-edge quarantine`); the sync loop never sends them meanwhile.
 */
import type { DatabaseSync } from 'node:sqlite';

/** Why the platform refused a batch for good, kept beside it. */
export interface Refusal {
  readonly at: string;
  readonly status: number;
  /** The platform's error code (`PALISADE_…`). */
  readonly code: string;
  readonly detail: string;
  readonly errors: readonly { readonly path: string; readonly message: string }[];
}

/** A batch set aside, as `palisade-edge quarantine list` shows it. */
export interface QuarantinedBatch {
  readonly batchId: string;
  readonly messages: number;
  readonly devices: readonly string[];
  /** Oldest message's `receivedAt` (Unix ms). */
  readonly oldestReceivedAt: number;
  /**
   * Whether a send of it may have reached the platform: retried as a new batch, its messages
   * could then be applied twice.
   */
  readonly sent: boolean;
  readonly refusal: Refusal;
}

/** Messages of a batch (by index) to set aside as batch `batchId`, and why. */
export interface SetAsideGroup {
  readonly batchId: string;
  readonly messages: readonly number[];
  readonly refusal: Refusal;
}

/** Messages and batches set aside. */
export interface QuarantineCounts {
  readonly batches: number;
  readonly messages: number;
}

/** Thrown for a batch id that is not in quarantine. */
export class NotQuarantinedError extends Error {
  constructor(batchId: string) {
    super(`batch ${batchId} is not in quarantine`);
    this.name = 'NotQuarantinedError';
  }
}

/** The outbox's quarantine, over the outbox's own connection and transactions. */
export class OutboxQuarantine {
  readonly #db: DatabaseSync;
  readonly #transaction: <T>(work: () => T) => T;
  readonly #unformUnsent: (refused: string) => void;
  readonly #takeSeq: () => number;

  constructor(
    db: DatabaseSync,
    outbox: {
      transaction<T>(work: () => T): T;
      unformUnsent(refused: string): void;
      takeSeq(): number;
    },
  ) {
    this.#db = db;
    this.#transaction = (work) => outbox.transaction(work);
    this.#unformUnsent = (refused) => outbox.unformUnsent(refused);
    this.#takeSeq = () => outbox.takeSeq();
  }

  /** Sets the whole batch aside as it is: same id, same content. */
  setAside(batchId: string, refusal: Refusal): void {
    this.#db
      .prepare('UPDATE batches SET quarantine = ? WHERE id = ?')
      .run(JSON.stringify(refusal), batchId);
  }

  /**
   * Sets aside only the messages at `indexes` of `batchId`, which no send can have had
   * applied, as the never-sent batch `newId`; its other messages, and those of every batch
   * never sent, go back in their order to be formed again.
   */
  setAsideMessages(
    batchId: string,
    indexes: readonly number[],
    newId: string,
    refusal: Refusal,
  ): void {
    this.#transaction(() => {
      this.#moveAside(batchId, [{ batchId: newId, messages: indexes, refusal }]);
      this.#unformUnsent(batchId);
    });
  }

  /**
   * Sets aside, each as the never-sent batch its group names, the messages at the indexes of
   * `batchId` that the platform refused in its answer applying that batch (the caller then
   * deletes the rest, applied, in the same transaction).
   */
  keepRefused(batchId: string, groups: readonly SetAsideGroup[]): void {
    if (groups.length > 0) this.#transaction(() => this.#moveAside(batchId, groups));
  }

  #moveAside(batchId: string, groups: readonly SetAsideGroup[]): void {
    const seqs = (
      this.#db
        .prepare('SELECT seq FROM messages WHERE batch_id = ? ORDER BY rank, seq')
        .all(batchId) as { seq: number }[]
    ).map((r) => r.seq);
    const insert = this.#db.prepare(
      'INSERT INTO batches (id, created_at, sent, quarantine, seq) VALUES (?, ?, 0, ?, ?)',
    );
    const move = this.#db.prepare('UPDATE messages SET batch_id = ? WHERE seq = ?');
    for (const group of groups) {
      const { batchId: id, refusal } = group;
      insert.run(id, new Date().toISOString(), JSON.stringify(refusal), this.#takeSeq());
      for (const i of group.messages) {
        const seq = seqs[i];
        if (seq !== undefined) move.run(group.batchId, seq);
      }
    }
  }

  counts(): QuarantineCounts {
    const row = this.#db
      .prepare(
        `SELECT count(DISTINCT b.id) AS batches, count(m.seq) AS messages
         FROM batches b LEFT JOIN messages m ON m.batch_id = b.id
         WHERE b.quarantine IS NOT NULL`,
      )
      .get() as { batches: number; messages: number };
    return { batches: Number(row.batches), messages: Number(row.messages) };
  }

  /** Every batch set aside, oldest first. */
  list(): QuarantinedBatch[] {
    const rows = this.#db
      .prepare(
        `SELECT b.id, b.sent, b.quarantine, count(m.seq) AS n, min(m.received_at) AS oldest,
           json_group_array(DISTINCT m.device_id) AS devices
         FROM batches b LEFT JOIN messages m ON m.batch_id = b.id
         WHERE b.quarantine IS NOT NULL GROUP BY b.id ORDER BY b.rowid`,
      )
      .all() as {
      id: string;
      sent: number;
      quarantine: string;
      n: number;
      oldest: number;
      devices: string;
    }[];
    return rows.map((r) => ({
      batchId: r.id,
      messages: Number(r.n),
      devices: JSON.parse(r.devices) as string[],
      oldestReceivedAt: Number(r.oldest),
      sent: r.sent !== 0,
      refusal: JSON.parse(r.quarantine) as Refusal,
    }));
  }

  /**
   * Puts a batch back in the queue and returns its message count: as it is (sent again
   * under its id, before any batch formed after it), or, `asNew`, as messages to be formed
   * again under new ids, which applies twice whatever an earlier send of it had applied.
   */
  retry(batchId: string, asNew: boolean): number {
    return this.#transaction(() => {
      const count = this.#messagesOf(batchId);
      if (asNew) {
        this.#db.prepare('UPDATE messages SET batch_id = NULL WHERE batch_id = ?').run(batchId);
        this.#db.prepare('DELETE FROM batches WHERE id = ?').run(batchId);
      } else this.#db.prepare('UPDATE batches SET quarantine = NULL WHERE id = ?').run(batchId);
      return count;
    });
  }

  /** Deletes a batch set aside, with its messages, for good; returns how many there were. */
  discard(batchId: string): number {
    return this.#transaction(() => {
      const count = this.#messagesOf(batchId);
      this.#db.prepare('DELETE FROM messages WHERE batch_id = ?').run(batchId);
      this.#db.prepare('DELETE FROM batches WHERE id = ?').run(batchId);
      return count;
    });
  }

  #messagesOf(batchId: string): number {
    const row = this.#db
      .prepare(
        `SELECT count(m.seq) AS n FROM batches b LEFT JOIN messages m ON m.batch_id = b.id
         WHERE b.id = ? AND b.quarantine IS NOT NULL GROUP BY b.id`,
      )
      .get(batchId) as { n: number } | undefined;
    if (row === undefined) throw new NotQuarantinedError(batchId);
    return Number(row.n);
  }
}
