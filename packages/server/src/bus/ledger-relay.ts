import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { Logger } from 'pino';
import type { SealedTenantCheckpoint, TenantLedgerReader } from '../store/index.ts';
import type { BusEvent, PlatformBus } from './bus.ts';
import { eventOfCheckpoint, eventOfEntry } from './ledger-events.ts';

/** Ledger entries read and published per step of a tenant's catch-up. */
const RELAY_PAGE_ENTRIES = 1000;
/**
 * Longest a cursor that moved only past unpublished entries (telemetry) stays unsaved: losing
 * it rereads those entries after a crash, nothing more, so it is not written per commit.
 */
const CURSOR_SAVE_MS = 1000;

export interface LedgerRelayOptions {
  readonly bus: PlatformBus;
  /** SQLite file of the relay's cursors (`DATA/bus-outbox.db`). */
  readonly cursorFile: string;
  /** The tenant's ledger, or undefined when the tenant is deleted or unknown. */
  readonly ledgerOf: (tenantId: string) => Promise<TenantLedgerReader | undefined>;
  /** The tenant's newest sealed checkpoint, republished at start (its id dedupes it). */
  readonly latestCheckpoint: (tenantId: string) => Promise<SealedTenantCheckpoint | undefined>;
  /** Back-off after a failed publish before the tenant is tried again. */
  readonly retryMs: number;
  readonly logger: Logger;
}

interface Pump {
  again: boolean;
  readonly done: Promise<void>;
}

/**
 * The outbox of the bus is the tenant's ledger. Every committed write is already a ledger
 * entry written in the same transaction as the data, numbered by a dense per-tenant `seq`;
 * the relay only remembers, per tenant, the next `seq` it has not published (a cursor in
 * `DATA/bus-outbox.db`, saved whenever it moves past published events, at least every
 * second otherwise, and at stop), and publishes the entries from there after each durable
 * batch — and, at start, for every tenant, which closes the crash window between commit and
 * publish without a second write in the data's transaction or a new tenant-store table.
 * The cursor moves only after the bus accepted the events; a crash in between republishes
 * them with the same ids (`<tenant>:<seq>`), which the bus stores once. Nothing is published
 * that is not committed, because only committed entries can be read.
 *
 * Trade-off: the cursor is per process. In scale-out the relay runs in the leading worker
 * (fed by every process's `ledger.dirty` notices); a worker taking the lead replays what the
 * previous leader published since its own cursor; the bus dedupes those within its duplicate
 * window and handlers dedupe the rest by id.
 */
export class LedgerRelay {
  readonly #options: LedgerRelayOptions;
  readonly #db: DatabaseSync;
  readonly #readCursor: StatementSync;
  readonly #writeCursor: StatementSync;
  /** Each tenant's cursor in this process, and when it was last saved. */
  readonly #cursors = new Map<string, { next: number; savedAt: number }>();
  readonly #pumps = new Map<string, Pump>();
  /**
   * Tenants deleted while this process ran: a pump already running for one must not write its
   * cursor back after forget, nor a late notice start another. One id per deletion, never reused.
   */
  readonly #forgotten = new Set<string>();
  readonly #retries = new Set<NodeJS.Timeout>();
  readonly #inflight = new Set<Promise<void>>();
  #stopped = false;

  constructor(options: LedgerRelayOptions) {
    this.#options = options;
    this.#db = new DatabaseSync(options.cursorFile, { timeout: 5000 });
    // The cursor moves only after the bus has durably accepted the events, and losing its
    // last moves to a power cut only republishes them under the same ids (deduped), so it
    // needs no fsync of its own: one fsync fewer per group commit.
    this.#db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS published (tenant TEXT PRIMARY KEY, next_seq INTEGER NOT NULL) WITHOUT ROWID`);
    this.#readCursor = this.#db.prepare('SELECT next_seq FROM published WHERE tenant = ?');
    this.#writeCursor = this.#db.prepare(
      'INSERT INTO published (tenant, next_seq) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET next_seq = excluded.next_seq',
    );
  }

  /** Catches every tenant up (their committed but unpublished entries, and latest checkpoint). */
  async start(tenantIds: AsyncIterable<string>): Promise<void> {
    for await (const tenantId of tenantIds) {
      if (this.#stopped) return;
      const sealed = await this.#options.latestCheckpoint(tenantId).catch(() => undefined);
      if (sealed !== undefined) this.checkpointsSealed([sealed]);
      this.markDirty(tenantId);
    }
  }

  /** The tenant committed a batch: publish its new entries. */
  markDirty(tenantId: string): void {
    if (this.#stopped || this.#forgotten.has(tenantId)) return;
    const running = this.#pumps.get(tenantId);
    if (running !== undefined) {
      running.again = true;
      return;
    }
    const pump: Pump = { again: false, done: this.#run(tenantId) };
    this.#pumps.set(tenantId, pump);
  }

  /**
   * The platform sealed these tenant checkpoints: one `ledger` event each, published again
   * after `retryMs` while the bus refuses it (its id dedupes a retry the bus did store).
   */
  checkpointsSealed(leaves: readonly SealedTenantCheckpoint[]): void {
    for (const leaf of leaves) {
      if (this.#stopped) return;
      if (this.#forgotten.has(leaf.tenantId)) continue;
      const sent = this.#options.bus
        .publish(leaf.tenantId, eventOfCheckpoint(leaf))
        .catch((error: unknown) => {
          this.#options.logger.warn(
            { err: error, tenant: leaf.tenantId },
            'bus: checkpoint event not published; retrying',
          );
          this.#retry(() => this.checkpointsSealed([leaf]));
        })
        .finally(() => this.#inflight.delete(sent));
      this.#inflight.add(sent);
    }
  }

  /**
   * The tenant is deleted: its cursor goes, from this process and from the cursor file, and
   * stays gone: a pump running for it stops before saving its cursor again.
   */
  forget(tenantId: string): void {
    this.#forgotten.add(tenantId);
    this.#cursors.delete(tenantId);
    if (this.#db.isOpen) this.#db.prepare('DELETE FROM published WHERE tenant = ?').run(tenantId);
  }

  /** Resolves when every tenant marked so far is published (or has failed and awaits a retry). */
  async drain(): Promise<void> {
    while (this.#pumps.size > 0 || this.#inflight.size > 0)
      await Promise.all([...this.#pumps.values()].map((p) => p.done).concat([...this.#inflight]));
  }

  /** Stops retrying, waits for the pumps in progress, closes the cursor file. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#retries) clearTimeout(timer);
    await this.drain();
    if (!this.#db.isOpen) return;
    for (const [tenantId, cursor] of this.#cursors) this.#writeCursor.run(tenantId, cursor.next);
    this.#db.close();
  }

  async #run(tenantId: string): Promise<void> {
    await Promise.resolve();
    const pump = this.#pumps.get(tenantId)!;
    try {
      do {
        pump.again = false;
        await this.#publishFrom(tenantId);
      } while (pump.again && !this.#stopped);
    } catch (error) {
      this.#options.logger.warn(
        { err: error, tenant: tenantId },
        'bus: publishing committed events failed; retrying',
      );
      this.#retry(() => this.markDirty(tenantId));
    } finally {
      this.#pumps.delete(tenantId);
    }
  }

  /** Runs `again` after `retryMs`; stopped, the next start catches every tenant up instead. */
  #retry(again: () => void): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#retries.delete(timer);
      again();
    }, this.#options.retryMs);
    this.#retries.add(timer);
  }

  async #publishFrom(tenantId: string): Promise<void> {
    const ledger = await this.#options.ledgerOf(tenantId);
    if (ledger === undefined) {
      this.#cursors.delete(tenantId);
      this.#db.prepare('DELETE FROM published WHERE tenant = ?').run(tenantId);
      return;
    }
    const { nextSeq } = await ledger.ledgerHead();
    if (this.#forgotten.has(tenantId)) return;
    const cursor = this.#cursor(tenantId);
    while (cursor.next < nextSeq && !this.#stopped) {
      const end = Math.min(nextSeq, cursor.next + RELAY_PAGE_ENTRIES);
      // Telemetry entries are never published: the store skips them without reading them out.
      const rows = await ledger.nonTelemetryEntries(cursor.next, end);
      const events = rows
        .map((row) => eventOfEntry(tenantId, row))
        .filter((e): e is BusEvent => e !== undefined);
      await this.#options.bus.publishBatch(tenantId, events);
      // Forgotten meanwhile: its cursor, deleted, must not be written back.
      if (this.#forgotten.has(tenantId)) return;
      cursor.next = end;
      const now = Date.now();
      if (events.length > 0 || now - cursor.savedAt >= CURSOR_SAVE_MS) {
        this.#writeCursor.run(tenantId, cursor.next);
        cursor.savedAt = now;
      }
    }
  }

  #cursor(tenantId: string): { next: number; savedAt: number } {
    let cursor = this.#cursors.get(tenantId);
    if (cursor === undefined) {
      const row = this.#readCursor.get(tenantId) as { next_seq: number } | undefined;
      cursor = { next: row?.next_seq ?? 0, savedAt: Date.now() };
      this.#cursors.set(tenantId, cursor);
    }
    return cursor;
  }
}
