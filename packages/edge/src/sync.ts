import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { canonicalJson } from '@palisade/ledger';
import type { Outbox, PendingBatch } from './outbox.ts';
import { type Backoff, PlatformRefusedError, retryDelay } from './platform-call.ts';

/** What a node holds after enrollment (kept in a 0600 file). */
export interface NodeIdentity {
  readonly url: string;
  readonly nodeId: string;
  readonly credential: string;
  /** PKCS#8 PEM private keys. */
  readonly ed25519: string;
  readonly mldsa65: string;
}

/** Named sync settings. */
export interface SyncSettings extends Backoff {
  /** Most messages per batch (at most the platform's `edgeBatchMaxMessages`). */
  readonly batchMaxMessages: number;
  /** Pause when the outbox is empty. */
  readonly idleMs: number;
  /** A send with no answer within this time counts as a link failure (the batch is resent). */
  readonly requestTimeoutMs?: number;
}

export const DEFAULT_SYNC: SyncSettings = {
  batchMaxMessages: 1000,
  backoffBaseMs: 200,
  backoffMaxMs: 30_000,
  idleMs: 250,
  requestTimeoutMs: 60_000,
};

/** What the loop reports as it goes (for logs and metrics). */
export interface SyncEvents {
  synced?(batch: PendingBatch, result: unknown): void;
  failed?(error: unknown, failures: number, retryInMs: number): void;
}

/**
 * Sends the outbox to the platform: one signed batch at a time, the same batch (id and
 * content) until the platform confirms it, then the next; messages are deleted only after
 * confirmation. Failures back off exponentially with full jitter, and never for less than
 * the platform's `Retry-After` (a 429 from the tenant's quota says when to come back).
 */
export class SyncLoop {
  readonly #outbox: Outbox;
  readonly #node: NodeIdentity;
  readonly #settings: SyncSettings;
  readonly #events: SyncEvents;
  #stopped = false;
  #failures = 0;
  #wake: (() => void) | undefined;

  constructor(
    outbox: Outbox,
    node: NodeIdentity,
    settings: SyncSettings = DEFAULT_SYNC,
    events: SyncEvents = {},
  ) {
    this.#outbox = outbox;
    this.#node = node;
    this.#settings = settings;
    this.#events = events;
  }

  /** Sends one batch; true when one was confirmed. Throws when the link or platform fails. */
  async syncOnce(): Promise<boolean> {
    const batch = this.#outbox.nextBatch(this.#settings.batchMaxMessages, randomUUID);
    if (batch === undefined) return false;
    const content = { nodeId: this.#node.nodeId, ...batch };
    const bytes = Buffer.from(canonicalJson(content), 'utf8');
    const signatures = {
      ed25519: sign(null, bytes, createPrivateKey(this.#node.ed25519)).toString('base64'),
      mldsa65: sign(null, bytes, createPrivateKey(this.#node.mldsa65)).toString('base64'),
    };
    this.#outbox.setState('lastAttempt', new Date().toISOString());
    const timeout = this.#settings.requestTimeoutMs;
    const response = await fetch(new URL('/v1/edge/batches', this.#node.url), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.#node.credential}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ ...content, signatures }),
      ...(timeout === undefined ? {} : { signal: AbortSignal.timeout(timeout) }),
    });
    const text = await response.text();
    if (response.status !== 200)
      throw new PlatformRefusedError(response.status, text, response.headers.get('retry-after'));
    this.#outbox.confirm(batch.batchId);
    this.#outbox.setState('lastSync', new Date().toISOString());
    this.#outbox.setState('lastResult', text);
    this.#events.synced?.(batch, JSON.parse(text));
    return true;
  }

  /** Runs until `stop`; a batch in flight is finished (confirmed or failed) before it returns. */
  async run(): Promise<void> {
    while (!this.#stopped) {
      let wait = this.#settings.idleMs;
      try {
        const sent = await this.syncOnce();
        this.#failures = 0;
        this.#outbox.setState('link', 'up');
        if (sent) wait = 0;
      } catch (error) {
        this.#failures += 1;
        this.#outbox.setState('link', `down: ${(error as Error).message}`);
        wait = retryDelay(this.#failures, this.#settings, error);
        this.#events.failed?.(error, this.#failures, Math.round(wait));
      }
      if (wait > 0 && !this.#stopped) await this.#sleep(wait);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /** Asks the loop to end: a pause is cut short, a batch in flight is finished first. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }
}
