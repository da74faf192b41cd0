import { Periodic, type PeriodicSettings } from '../periodic.ts';
import type { NodeIdentity } from '../sync.ts';
import type { EdgePipeline } from './pipeline.ts';
import { writeRuleCache } from './rule-cache.ts';
import { fetchRuleBook } from './rule-fetch.ts';
import type { RuleBook } from './rule-types.ts';

/** Named settings of the rule refresh (an unchanged book costs a 304; a failed pull leaves the rules in force). */
export interface RuleRefreshSettings extends PeriodicSettings {
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
  readonly #loop: Periodic;

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
    this.#loop = new Periodic(
      async (signal) => {
        await this.refreshOnce(signal);
      },
      settings,
      (error, retryInMs) => events.failed?.(error, retryInMs),
    );
  }

  /** One pull (ended by `signal`); true when a new book was put in force. */
  async refreshOnce(signal?: AbortSignal): Promise<boolean> {
    const book = await fetchRuleBook(
      this.#node,
      this.#pipeline.revision,
      this.#settings.requestTimeoutMs,
      signal,
    );
    if (book === undefined || book.revision === this.#pipeline.revision) return false;
    writeRuleCache(this.#dir, book);
    this.#pipeline.setRules(book);
    this.#events.updated?.(book);
    return true;
  }

  /** Pulls now, then every `intervalMs` (after a failure: `retryMs`, or the platform's Retry-After). */
  start(): void {
    this.#loop.start();
  }

  /** Ends the pulls; resolves once a pull in flight has finished. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }
}
