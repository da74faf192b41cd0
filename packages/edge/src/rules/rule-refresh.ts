import { PlatformRefusedError } from '../platform-call.ts';
import type { NodeIdentity } from '../sync.ts';
import type { EdgePipeline } from './pipeline.ts';
import { writeRuleCache } from './rule-cache.ts';
import { fetchRuleBook } from './rule-fetch.ts';
import type { RuleBook } from './rule-types.ts';

/** Named settings of the rule refresh. */
export interface RuleRefreshSettings {
  /** Time between two pulls that worked (an unchanged book costs a 304). */
  readonly intervalMs: number;
  /** Time before retrying a pull that failed (the rules in force stay in force). */
  readonly retryMs: number;
  readonly requestTimeoutMs: number;
}

export const DEFAULT_RULE_REFRESH: RuleRefreshSettings = {
  intervalMs: 30_000,
  retryMs: 5_000,
  requestTimeoutMs: 30_000,
};

/** What the refresh reports (for logs and metrics). */
export interface RuleRefreshEvents {
  updated?(book: RuleBook): void;
  failed?(error: unknown, retryInMs: number): void;
}

/**
 * Keeps the node's rules current: pulls the rule book (`GET /v1/edge/rules`, If-None-Match),
 * writes a changed one to the cache first (so it survives a restart while offline), then
 * puts it in force. A failed pull changes nothing: the rules in force keep applying.
 */
export class RuleRefresh {
  readonly #dir: string;
  readonly #node: NodeIdentity;
  readonly #pipeline: EdgePipeline;
  readonly #settings: RuleRefreshSettings;
  readonly #events: RuleRefreshEvents;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(
    dir: string,
    node: NodeIdentity,
    pipeline: EdgePipeline,
    settings: RuleRefreshSettings = DEFAULT_RULE_REFRESH,
    events: RuleRefreshEvents = {},
  ) {
    this.#dir = dir;
    this.#node = node;
    this.#pipeline = pipeline;
    this.#settings = settings;
    this.#events = events;
  }

  /** One pull; true when a new book was put in force. */
  async refreshOnce(): Promise<boolean> {
    const book = await fetchRuleBook(
      this.#node,
      this.#pipeline.revision,
      this.#settings.requestTimeoutMs,
    );
    if (book === undefined || book.revision === this.#pipeline.revision) return false;
    writeRuleCache(this.#dir, book);
    this.#pipeline.setRules(book);
    this.#events.updated?.(book);
    return true;
  }

  /** Pulls now, then every `intervalMs` (after a failure: `retryMs`, or the platform's Retry-After). */
  start(): void {
    const tick = async (): Promise<void> => {
      let wait = this.#settings.intervalMs;
      try {
        await this.refreshOnce();
      } catch (error) {
        const after = error instanceof PlatformRefusedError ? (error.retryAfterMs ?? 0) : 0;
        wait = Math.max(this.#settings.retryMs, after);
        this.#events.failed?.(error, wait);
      }
      if (!this.#stopped)
        this.#timer = setTimeout(() => {
          this.#running = tick();
        }, wait);
    };
    this.#running = tick();
  }

  /** Ends the pulls; resolves once a pull in flight has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}
