import { PlatformRefusedError } from './platform-call.ts';

/** Named settings of a periodic task. */
export interface PeriodicSettings {
  /** Time between two runs that worked. */
  readonly intervalMs: number;
  /** Time before retrying a run that failed, unless the platform's Retry-After asks for longer. */
  readonly retryMs: number;
}

/**
 * Runs `task` now, then every `intervalMs` until `stop`; after a failure waits `retryMs`, or the
 * platform's Retry-After when that is longer (a quota refusal says when to return).
 */
export class Periodic {
  readonly #task: (signal: AbortSignal) => Promise<void>;
  readonly #settings: PeriodicSettings;
  readonly #failed: (error: unknown, retryInMs: number) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  /** Aborted by `stop`, so that a run waiting on the platform ends at once. */
  readonly #stop = new AbortController();

  constructor(
    task: (signal: AbortSignal) => Promise<void>,
    settings: PeriodicSettings,
    failed: (error: unknown, retryInMs: number) => void,
  ) {
    this.#task = task;
    this.#settings = settings;
    this.#failed = failed;
  }

  start(): void {
    const tick = async (): Promise<void> => {
      let wait = this.#settings.intervalMs;
      try {
        await this.#task(this.#stop.signal);
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        const after = error instanceof PlatformRefusedError ? (error.retryAfterMs ?? 0) : 0;
        wait = Math.max(this.#settings.retryMs, after);
        this.#failed(error, wait);
      }
      if (!this.#stop.signal.aborted)
        this.#timer = setTimeout(() => {
          this.#running = tick();
        }, wait);
    };
    this.#running = tick();
  }

  /** Ends the runs, cutting short a run in flight; resolves once it has finished. */
  async stop(): Promise<void> {
    this.#stop.abort();
    clearTimeout(this.#timer);
    await this.#running;
  }
}
