import type { MaybePromise } from '../maybe-promise/index.ts';
/**
 * Bounds in-flight ingestion per client and across the listener. A message over either
 * bound waits for a slot instead of being dropped; while it waits, aedes reads nothing more
 * from that client's socket (it parses the next chunk only when every packet of the current
 * one is handled), so TCP flow control slows the publisher down.
 */

/** One client's share of the gate. */
export interface GateSlot {
  inflight: number;
}

interface Waiter {
  readonly slot: GateSlot;
  readonly resume: () => void;
}

export class IngestGate {
  readonly #clientMax: number;
  readonly #globalMax: number;
  #inflight = 0;
  #waiting: Waiter[] = [];
  /** How many messages had to wait for a slot (back-pressure applied). */
  waits = 0;

  constructor(clientMax: number, globalMax: number) {
    this.#clientMax = clientMax;
    this.#globalMax = globalMax;
  }

  /** Messages being ingested now, across all clients. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Runs `work` once the slot and the listener are under their bounds. */
  async run<T>(slot: GateSlot, work: () => MaybePromise<T>): Promise<T> {
    if (!this.#free(slot)) {
      this.waits++;
      await new Promise<void>((resume) => this.#waiting.push({ slot, resume }));
    } else {
      this.#take(slot);
    }
    try {
      return await work();
    } finally {
      slot.inflight--;
      this.#inflight--;
      this.#wake();
    }
  }

  #free(slot: GateSlot): boolean {
    return slot.inflight < this.#clientMax && this.#inflight < this.#globalMax;
  }

  #take(slot: GateSlot): void {
    slot.inflight++;
    this.#inflight++;
  }

  /** Hands freed capacity to the oldest waiters that fit, in arrival order. */
  #wake(): void {
    if (this.#waiting.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.#waiting) {
      if (this.#free(waiter.slot)) {
        this.#take(waiter.slot);
        waiter.resume();
      } else {
        still.push(waiter);
      }
    }
    this.#waiting = still;
  }
}
