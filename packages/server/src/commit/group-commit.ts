import { PalisadeError } from '../errors/index.ts';
import type { TenantStore, TenantWriteTx } from '../store/index.ts';

/** What one write tells the ledger: who did what to which resource, and the new state. */
export interface WriteEvent {
  readonly actor: string;
  readonly action: string;
  readonly resource: string;
  /** The resource's new state (committed only as a salted hash), or null when it was removed. */
  readonly state: unknown;
}

/** One caller's write: statements on the tenant's transaction plus the events it records. */
export type WriteOp<T> = (tx: TenantWriteTx, record: (event: WriteEvent) => void) => Promise<T>;

/**
 * Called inside the transaction, after the batch's ops, with the events of those that
 * succeeded; answers the ledger seq of the first, the others following it in order (a sealer
 * that keeps no ledger, as some tests use, answers nothing).
 */
export type BatchSealer = (
  tx: TenantWriteTx,
  tenantId: string,
  events: readonly WriteEvent[],
) => Promise<number | undefined>;

/**
 * A write's result and the ledger seqs of the events it recorded, in order: none when the
 * sealer keeps no ledger.
 */
export interface Recorded<T> {
  readonly value: T;
  readonly entries: readonly number[];
}

export interface GroupCommitOptions {
  /** Most ops in one transaction. */
  readonly maxBatch: number;
  /** Longest an op waits for others to join (0: the next turn of the event loop). */
  readonly maxWaitMs: number;
  readonly seal: BatchSealer;
  /** Told after each durable batch that recorded events (the ledger sealer listens). */
  readonly onCommitted?: (tenantId: string) => void;
}

interface Pending {
  readonly op: WriteOp<unknown>;
  /** Whether the caller is told its entries' seqs (submitRecorded). */
  readonly recorded: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface TenantQueue {
  readonly store: TenantStore;
  readonly pending: Pending[];
  scheduled: boolean;
  running: boolean;
}

/** An op refused (threw a PalisadeError) after it had written: its transaction must not commit. */
class RefusedAfterWriting extends Error {
  readonly refusal: PalisadeError;
  constructor(refusal: PalisadeError) {
    super(`a write refused after writing: ${refusal.code}`);
    this.refusal = refusal;
  }
}

/**
 * Group commit: the writes of one tenant that arrive while its previous transaction is
 * committing (or within `maxWaitMs`) share one transaction, one fsync and one ledger leaf.
 * An op that refuses (throws a PalisadeError) before writing leaves the others to commit; an
 * op that refuses after writing (the transaction's write count moved), or fails unexpectedly,
 * rolls the batch back and each op is retried alone, so one bad write neither fails its
 * neighbours nor leaves half of itself behind.
 */
export class GroupCommitter {
  readonly #options: GroupCommitOptions;
  readonly #queues = new Map<string, TenantQueue>();
  readonly #idle = new Set<() => void>();
  /** Per tenant: who waits for its queued writes to be done. */
  readonly #tenantIdle = new Map<string, (() => void)[]>();

  constructor(options: GroupCommitOptions) {
    this.#options = options;
  }

  submit<T>(store: TenantStore, op: WriteOp<T>): Promise<T> {
    return this.#submit(store, op, false) as Promise<T>;
  }

  /**
   * As submit, and tells which ledger entries the write's events became: a write that answers
   * a proof of itself proves those, never whatever a later write made of the resource.
   */
  submitRecorded<T>(store: TenantStore, op: WriteOp<T>): Promise<Recorded<T>> {
    return this.#submit(store, op, true) as Promise<Recorded<T>>;
  }

  #submit(store: TenantStore, op: WriteOp<unknown>, recorded: boolean): Promise<unknown> {
    let queue = this.#queues.get(store.tenantId);
    if (queue === undefined) {
      queue = { store, pending: [], scheduled: false, running: false };
      this.#queues.set(store.tenantId, queue);
    }
    const promise = new Promise<unknown>((resolve, reject) => {
      queue.pending.push({ op, recorded, resolve, reject });
    });
    this.#schedule(queue);
    return promise;
  }

  /**
   * Resolves when every submitted write has committed or failed, or, given a tenant, every
   * write of that tenant: other tenants' traffic does not hold that up.
   */
  drain(tenantId?: string): Promise<void> {
    if (tenantId === undefined) {
      if (this.#queues.size === 0) return Promise.resolve();
      return new Promise((resolve) => this.#idle.add(resolve));
    }
    if (!this.#queues.has(tenantId)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiting = this.#tenantIdle.get(tenantId);
      if (waiting === undefined) this.#tenantIdle.set(tenantId, [resolve]);
      else waiting.push(resolve);
    });
  }

  #schedule(queue: TenantQueue): void {
    if (queue.scheduled || queue.running) return;
    queue.scheduled = true;
    const flush = () => {
      queue.scheduled = false;
      void this.#flush(queue);
    };
    if (this.#options.maxWaitMs > 0) setTimeout(flush, this.#options.maxWaitMs);
    else setImmediate(flush);
  }

  async #flush(queue: TenantQueue): Promise<void> {
    queue.running = true;
    const batch = queue.pending.splice(0, this.#options.maxBatch);
    try {
      await this.#commit(queue.store, batch);
    } catch {
      for (const item of batch)
        await this.#commit(queue.store, [item]).catch((error) =>
          item.reject(error instanceof RefusedAfterWriting ? error.refusal : error),
        );
    }
    queue.running = false;
    if (queue.pending.length > 0) {
      this.#schedule(queue);
      return;
    }
    this.#queues.delete(queue.store.tenantId);
    for (const resolve of this.#tenantIdle.get(queue.store.tenantId) ?? []) resolve();
    this.#tenantIdle.delete(queue.store.tenantId);
    if (this.#queues.size === 0) {
      for (const resolve of this.#idle) resolve();
      this.#idle.clear();
    }
  }

  async #commit(store: TenantStore, batch: readonly Pending[]): Promise<void> {
    const outcomes = await store.transaction(async (tx) => {
      const events: WriteEvent[] = [];
      const results: (
        | { ok: true; value: unknown; first: number; count: number }
        | { ok: false; error: PalisadeError }
      )[] = [];
      for (const item of batch) {
        const own: WriteEvent[] = [];
        const written = tx.writeCount();
        try {
          const value = await item.op(tx, (event) => own.push(event));
          results.push({ ok: true, value, first: events.length, count: own.length });
          events.push(...own);
        } catch (error) {
          if (!(error instanceof PalisadeError)) throw error;
          if (tx.writeCount() !== written) throw new RefusedAfterWriting(error);
          results.push({ ok: false, error });
        }
      }
      const firstSeq =
        events.length > 0 ? await this.#options.seal(tx, store.tenantId, events) : undefined;
      return { results, firstSeq, sealed: events.length > 0 };
    });
    if (outcomes.sealed) this.#options.onCommitted?.(store.tenantId);
    outcomes.results.forEach((outcome, i) => {
      const item = batch[i]!;
      if (!outcome.ok) item.reject(outcome.error);
      else if (!item.recorded) item.resolve(outcome.value);
      else {
        const first = (outcomes.firstSeq ?? 0) + outcome.first;
        const count = outcomes.firstSeq === undefined ? 0 : outcome.count;
        const entries = Array.from({ length: count }, (_, n) => first + n);
        item.resolve({ value: outcome.value, entries });
      }
    });
  }
}
