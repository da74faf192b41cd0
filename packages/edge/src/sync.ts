import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { canonicalJson } from '@palisade/ledger';
import type { Outbox } from './outbox.ts';

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
export interface SyncSettings {
  /** Most messages per batch (at most the platform's `edgeBatchMaxMessages`). */
  readonly batchMaxMessages: number;
  /** First retry delay after a failed send; doubles per failure up to `backoffMaxMs`, with full jitter. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Pause when the outbox is empty. */
  readonly idleMs: number;
}

export const DEFAULT_SYNC: SyncSettings = {
  batchMaxMessages: 1000,
  backoffBaseMs: 200,
  backoffMaxMs: 30_000,
  idleMs: 250,
};

/**
 * Sends the outbox to the platform: one signed batch at a time, the same batch (id and
 * content) until the platform confirms it, then the next; messages are deleted only after
 * confirmation. Failures back off exponentially with full jitter.
 */
export class SyncLoop {
  readonly #outbox: Outbox;
  readonly #node: NodeIdentity;
  readonly #settings: SyncSettings;
  #stopped = false;
  #failures = 0;

  constructor(outbox: Outbox, node: NodeIdentity, settings: SyncSettings = DEFAULT_SYNC) {
    this.#outbox = outbox;
    this.#node = node;
    this.#settings = settings;
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
    const response = await fetch(new URL('/v1/edge/batches', this.#node.url), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.#node.credential}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ ...content, signatures }),
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`platform answered ${response.status}: ${text}`);
    this.#outbox.confirm(batch.batchId);
    this.#outbox.setState('lastSync', new Date().toISOString());
    this.#outbox.setState('lastResult', text);
    return true;
  }

  /** Runs until `stop`. */
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
        const cap = Math.min(
          this.#settings.backoffMaxMs,
          this.#settings.backoffBaseMs * 2 ** Math.min(this.#failures, 20),
        );
        wait = Math.random() * cap;
      }
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  stop(): void {
    this.#stopped = true;
  }
}
