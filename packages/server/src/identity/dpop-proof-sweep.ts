import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { DpopProofStore } from '../store/index.ts';

export interface DpopProofSweepOptions {
  readonly store: DpopProofStore;
  /** How often a pass runs (dpopProofSweepIntervalMs). */
  readonly intervalMs: number;
  /** Most proofs one statement deletes (dpopProofSweepBatchMax). */
  readonly batchMax: number;
  readonly logger?: Logger | undefined;
}

/**
 * Deletes from the shared store the proofs whose windows have ended, in every API process
 * (on PostgreSQL concurrent sweeps take different rows). A pass deletes at most `batchMax`
 * rows a statement, and goes on with another, after letting requests in, while a statement
 * found that many: a pass takes all the proofs ended when it began, in bounded steps.
 */
export class DpopProofSweep {
  readonly #options: DpopProofSweepOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;

  constructor(options: DpopProofSweepOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.run().catch((error: unknown) =>
        this.#options.logger?.warn({ err: error }, 'DPoP proof sweep failed; retrying'),
      );
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  /** One pass at `now`: how many proofs it deleted. Concurrent calls share the pass in progress. */
  run(now: number = Date.now()): Promise<number> {
    this.#running ??= this.#pass(now).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #pass(now: number): Promise<number> {
    const { store, batchMax } = this.#options;
    let deleted = 0;
    for (;;) {
      const step = await store.sweep(now, batchMax);
      deleted += step;
      if (step < batchMax) return deleted;
      await nextTurn();
    }
  }
}
