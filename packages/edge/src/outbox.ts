import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { OutboxQuarantine, type SetAsideGroup } from './outbox-quarantine.ts';

/** What a device sent: telemetry (the default) or its client-side attributes. */
export type MessageKind = 'telemetry' | 'attributes';

/** One accepted device message, as stored (decrypted) and as sent in a batch. */
export interface OutboxMessage {
  readonly deviceId: string;
  readonly payload: unknown;
  readonly receivedAt: number;
  /** Present only for attributes, so a telemetry batch reads as it always did. */
  readonly kind?: 'attributes';
}

/** A batch formed from the outbox: its id and content never change once formed (retries are idempotent). */
export interface PendingBatch {
  readonly batchId: string;
  readonly createdAt: string;
  /**
   * The node's count of the batches it formed (see `BATCH_SEQ`); absent from a batch an
   * outbox of an earlier version formed, which is sent as it was.
   */
  readonly seq?: number;
  readonly messages: readonly OutboxMessage[];
}

/**
 * The `sync_state` key of the last batch sequence number given. Every batch formed takes the
 * next one, so no two batches of one node directory ever carry the same: the platform refuses
 * a number it already applied under another id (PALISADE_EDGE_NODE_CLONED), which only a
 * second copy of the directory sends.
 */
const BATCH_SEQ = 'batchSeq';

/** Priority of a message: alerts are sent before bulk telemetry. */
export type Priority = 'alert' | 'telemetry';

/** Thrown by `accept` when the outbox is full: the device must not get its PUBACK. */
export class OutboxFullError extends Error {
  readonly code = 'EDGE_OUTBOX_FULL';
  constructor(max: number) {
    super(
      `the edge outbox holds its maximum of ${max} messages; refusing until the link drains it`,
    );
  }
}

const RANK: Record<Priority, number> = { alert: 0, telemetry: 1 };

/** SQL condition on `messages`: the message is not in quarantine. */
const QUEUED =
  'batch_id IS NULL OR batch_id NOT IN (SELECT id FROM batches WHERE quarantine IS NOT NULL)';

/**
 * What a message adds to a batch body beyond its sealed payload and device id: the envelope's
 * field names and `receivedAt` (the sealed payload's 28 bytes of IV and tag cover the rest).
 */
const BATCH_MESSAGE_OVERHEAD_BYTES = 64;

/** How long a writer waits for another process's write lock (e.g. `accept` beside `start`). */
export const OUTBOX_BUSY_TIMEOUT_MS = 5000;

/**
 * The durable outbox of an edge node: SQLite in WAL with synchronous=FULL, so a message is on
 * disk before `accept` returns. Payloads are sealed with AES-256-GCM under a key the node
 * holds, bound to their row (device, time). When full, `accept` refuses with a reason and
 * nothing is ever dropped silently. Messages leave only when the platform confirms their batch.
 */
export class Outbox {
  readonly #db: DatabaseSync;
  /** One key object for every seal and open (wrapping raw key bytes per call costs more than the AES). */
  readonly #key: KeyObject;
  readonly #maxMessages: number;
  /** Per open transaction and savepoint (outermost first), what `onRollback` asked to undo. */
  readonly #undo: (() => void)[][] = [];
  /** Batches the platform refused for good, set aside until the operator acts on them. */
  readonly quarantine: OutboxQuarantine;

  constructor(path: string, key: Uint8Array, options: { maxMessages: number }) {
    if (key.length !== 32) throw new Error('the outbox key must be 32 bytes');
    this.#key = createSecretKey(key);
    this.#maxMessages = options.maxMessages;
    this.#db = new DatabaseSync(path, { timeout: OUTBOX_BUSY_TIMEOUT_MS });
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        rank INTEGER NOT NULL,
        device_id TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        sealed BLOB NOT NULL,
        batch_id TEXT,
        kind TEXT NOT NULL DEFAULT 'telemetry' CHECK (kind IN ('telemetry', 'attributes'))
      ) STRICT;
      CREATE INDEX IF NOT EXISTS messages_unbatched ON messages (rank, seq) WHERE batch_id IS NULL;
      -- A formed batch is loaded and deleted by its id without scanning the whole backlog.
      CREATE INDEX IF NOT EXISTS messages_batched ON messages (batch_id, rank, seq)
        WHERE batch_id IS NOT NULL;
      CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, created_at TEXT NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS sync_state (k TEXT PRIMARY KEY, v TEXT NOT NULL) STRICT;
    `);
    // Whether a send of the batch may have reached the platform. Batches an outbox of an
    // earlier version formed count as sent: nobody knows, so they are never formed again.
    const columns = this.#db.prepare('PRAGMA table_info(batches)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'sent'))
      this.#db.exec('ALTER TABLE batches ADD COLUMN sent INTEGER NOT NULL DEFAULT 1');
    // The platform's refusal (JSON) of a batch set aside; null for a batch in the queue.
    if (!columns.some((c) => c.name === 'quarantine'))
      this.#db.exec('ALTER TABLE batches ADD COLUMN quarantine TEXT');
    // The batch's sequence number; null for one formed by an earlier version.
    if (!columns.some((c) => c.name === 'seq'))
      this.#db.exec('ALTER TABLE batches ADD COLUMN seq INTEGER');
    this.quarantine = new OutboxQuarantine(this.#db, this);
  }

  /** Binds a sealed payload to its row: device, time, and kind (so attributes never pass for telemetry). */
  #aad(deviceId: string, receivedAt: number, kind: MessageKind): Buffer {
    const suffix = kind === 'telemetry' ? '' : `\n${kind}`;
    return Buffer.from(`${deviceId}\n${receivedAt}${suffix}`, 'utf8');
  }

  #seal(deviceId: string, receivedAt: number, kind: MessageKind, payload: unknown): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(this.#aad(deviceId, receivedAt, kind));
    const body = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  /** Writes the message durably before returning; throws OutboxFullError when full. */
  accept(
    deviceId: string,
    payload: unknown,
    priority: Priority = 'telemetry',
    kind: MessageKind = 'telemetry',
  ): void {
    if (this.acceptMany([{ deviceId, payload, priority, kind }]) === 0)
      throw new OutboxFullError(this.#maxMessages);
  }

  /**
   * Writes as many of `messages` as the outbox has room for, in order, in one transaction (one
   * fsync for all), and returns how many it took; the rest are refused, never dropped silently.
   */
  acceptMany(
    messages: readonly {
      deviceId: string;
      payload: unknown;
      priority?: Priority;
      kind?: MessageKind;
    }[],
  ): number {
    const room = Math.max(0, Math.min(messages.length, this.#maxMessages - this.size()));
    if (room === 0) return 0;
    this.#insert(messages.slice(0, room));
    return room;
  }

  /** Throws OutboxFullError when the outbox holds its maximum (inside a transaction: what it wrote included). */
  checkRoom(): void {
    if (this.size() >= this.#maxMessages) throw new OutboxFullError(this.#maxMessages);
  }

  /**
   * Writes, even when the outbox holds its maximum, telemetry the node made of values their
   * devices already had acknowledged (a downsample window that ended, and the alerts it fired):
   * refusing it could only lose them. What goes past the maximum so is bounded by the windows
   * open when the outbox filled, since no value joins a window while it is full.
   */
  keep(deviceId: string, payload: unknown, priority: Priority): void {
    this.#insert([{ deviceId, payload, priority }]);
  }

  #insert(
    messages: readonly {
      deviceId: string;
      payload: unknown;
      priority?: Priority;
      kind?: MessageKind;
    }[],
  ): void {
    const insert = this.#db.prepare(
      'INSERT INTO messages (rank, device_id, received_at, sealed, kind) VALUES (?, ?, ?, ?, ?)',
    );
    const receivedAt = Date.now();
    this.transaction(() => {
      for (const m of messages) {
        const kind = m.kind ?? 'telemetry';
        const sealed = this.#seal(m.deviceId, receivedAt, kind, m.payload);
        insert.run(RANK[m.priority ?? 'telemetry'], m.deviceId, receivedAt, sealed, kind);
      }
    });
  }

  /**
   * Runs `work` in one transaction, so that every message it accepts shares one fsync (group
   * commit); an accept inside joins it. If `work` or the commit throws, none of it is kept;
   * nested in another transaction, `work` is a savepoint, so its throw undoes only its own
   * writes (a refused message of a group leaves nothing behind).
   */
  transaction<T>(work: () => T): T {
    if (this.#db.isTransaction) return this.#savepoint(work);
    this.#db.exec('BEGIN IMMEDIATE');
    this.#undo.push([]);
    try {
      const result = work();
      this.#db.exec('COMMIT');
      this.#undo.pop();
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      this.#rollBack();
      throw error;
    }
  }

  #savepoint<T>(work: () => T): T {
    this.#db.exec('SAVEPOINT nested');
    this.#undo.push([]);
    try {
      const result = work();
      this.#db.exec('RELEASE nested');
      this.#undo.at(-2)?.push(...(this.#undo.pop() ?? []));
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK TO nested');
      this.#db.exec('RELEASE nested');
      this.#rollBack();
      throw error;
    }
  }

  /**
   * Inside `transaction`: runs `undo` if that transaction is rolled back (its work threw or
   * its commit failed), so state kept beside the outbox, such as the rules', follows it.
   */
  onRollback(undo: () => void): void {
    this.#undo.at(-1)?.push(undo);
  }

  #rollBack(): void {
    for (const undo of (this.#undo.pop() ?? []).reverse()) undo();
  }

  #open(deviceId: string, receivedAt: number, kind: MessageKind, sealed: Uint8Array): unknown {
    const data = Buffer.from(sealed);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, data.subarray(0, 12));
    decipher.setAAD(this.#aad(deviceId, receivedAt, kind));
    decipher.setAuthTag(data.subarray(12, 28));
    return JSON.parse(
      Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]).toString('utf8'),
    );
  }

  /** Messages held, those in quarantine included (they count against `maxMessages`). */
  size(): number {
    return Number(
      (this.#db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n,
    );
  }

  /** Messages waiting to be sent: all but those in quarantine. */
  waiting(): number {
    const row = this.#db.prepare(`SELECT count(*) AS n FROM messages WHERE ${QUEUED}`).get() as {
      n: number;
    };
    return Number(row.n);
  }

  /** Unix ms of the oldest message waiting to be sent, or null when none is. */
  oldest(): number | null {
    const row = this.#db
      .prepare(`SELECT min(received_at) AS t FROM messages WHERE ${QUEUED}`)
      .get() as { t: number | null };
    return row.t;
  }

  /**
   * The batch to send next after those `inHand`: the oldest formed one not in hand (after a
   * crash or failed send, the same id and content), else a new one of at most `max`
   * messages and, but for its first message, about `maxBytes` of request body, alerts first,
   * in acceptance order.
   */
  nextBatch(
    max: number,
    newId: () => string,
    inHand: ReadonlySet<string> = new Set(),
    maxBytes: number = Number.MAX_SAFE_INTEGER,
  ): PendingBatch | undefined {
    const formed = (
      this.#db
        .prepare('SELECT id, created_at, seq FROM batches WHERE quarantine IS NULL ORDER BY rowid')
        .all() as {
        id: string;
        created_at: string;
        seq: number | null;
      }[]
    ).find((b) => !inHand.has(b.id));
    if (formed !== undefined) return this.#load(formed.id, formed.created_at, formed.seq);
    const id = newId();
    const createdAt = new Date().toISOString();
    let seq: number;
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const n = this.#db
        .prepare(
          `UPDATE messages SET batch_id = ? WHERE seq IN (
             SELECT seq FROM (
               SELECT seq, row_number() OVER next AS n,
                 sum(length(sealed) + length(device_id) + ?) OVER next AS bytes
               FROM (SELECT seq, rank, sealed, device_id FROM messages
                     WHERE batch_id IS NULL ORDER BY rank, seq LIMIT ?)
               WINDOW next AS (ORDER BY rank, seq)
             ) WHERE n = 1 OR bytes <= ?)`,
        )
        .run(id, BATCH_MESSAGE_OVERHEAD_BYTES, max, maxBytes).changes;
      if (Number(n) === 0) {
        this.#db.exec('ROLLBACK');
        return undefined;
      }
      seq = this.takeSeq();
      this.#db
        .prepare('INSERT INTO batches (id, created_at, sent, seq) VALUES (?, ?, 0, ?)')
        .run(id, createdAt, seq);
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
    return this.#load(id, createdAt, seq);
  }

  /** Inside a transaction: the next batch sequence number, now taken for good. */
  takeSeq(): number {
    const seq = Number(this.state(BATCH_SEQ) ?? 0) + 1;
    this.setState(BATCH_SEQ, String(seq));
    return seq;
  }

  #load(batchId: string, createdAt: string, seq: number | null): PendingBatch {
    const rows = this.#db
      .prepare(
        'SELECT device_id, received_at, sealed, kind FROM messages WHERE batch_id = ? ORDER BY rank, seq',
      )
      .all(batchId) as {
      device_id: string;
      received_at: number;
      sealed: Uint8Array;
      kind: MessageKind;
    }[];
    return {
      batchId,
      createdAt,
      ...(seq === null ? {} : { seq: Number(seq) }),
      messages: rows.map((r) => {
        const message = {
          deviceId: r.device_id,
          receivedAt: r.received_at,
          payload: this.#open(r.device_id, r.received_at, r.kind, r.sealed),
        };
        return r.kind === 'attributes' ? { ...message, kind: 'attributes' as const } : message;
      }),
    };
  }

  /**
   * Before a send of `batchId`: records, with `state` in the same commit, that this send may
   * reach the platform. Returns whether an earlier send may have (and so may have been
   * applied, its answer lost): such a batch is only ever sent again as it is.
   */
  sending(batchId: string, state: Readonly<Record<string, string>> = {}): boolean {
    return this.transaction(() => {
      const row = this.#db.prepare('SELECT sent FROM batches WHERE id = ?').get(batchId) as
        | { sent: number }
        | undefined;
      this.#db.prepare('UPDATE batches SET sent = 1 WHERE id = ?').run(batchId);
      for (const [key, value] of Object.entries(state)) this.setState(key, value);
      return row?.sent !== 0;
    });
  }

  /** The send that `sending` recorded failed before its body left the node: it never reached the platform. */
  notSent(batchId: string): void {
    this.#db.prepare('UPDATE batches SET sent = 0 WHERE id = ?').run(batchId);
  }

  /**
   * The platform refused `refused` unread and no earlier send of it may have reached the
   * platform: its messages and those of every batch never sent go back, unbatched, in their
   * order, to be formed again (smaller, or without what was set aside). A batch that may have
   * been applied keeps its id and content, and one in quarantine stays there.
   */
  unformUnsent(refused: string): void {
    this.transaction(() => {
      this.notSent(refused);
      this.#db.exec(
        `UPDATE messages SET batch_id = NULL
         WHERE batch_id IN (SELECT id FROM batches WHERE sent = 0 AND quarantine IS NULL)`,
      );
      this.#db.exec('DELETE FROM batches WHERE sent = 0 AND quarantine IS NULL');
    });
  }

  /**
   * The platform confirmed the batch: its messages leave the outbox, but those it refused by
   * index (`refused`, set aside in quarantine), and `state` is set, in one commit.
   */
  confirm(
    batchId: string,
    state: Readonly<Record<string, string>> = {},
    refused: readonly SetAsideGroup[] = [],
  ): void {
    this.transaction(() => {
      this.quarantine.keepRefused(batchId, refused);
      this.#db.prepare('DELETE FROM messages WHERE batch_id = ?').run(batchId);
      this.#db.prepare('DELETE FROM batches WHERE id = ?').run(batchId);
      for (const [key, value] of Object.entries(state)) this.setState(key, value);
    });
  }

  setState(key: string, value: string): void {
    this.#db.prepare('INSERT OR REPLACE INTO sync_state (k, v) VALUES (?, ?)').run(key, value);
  }

  state(key: string): string | undefined {
    return (this.#db.prepare('SELECT v FROM sync_state WHERE k = ?').get(key) as { v: string })?.v;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
