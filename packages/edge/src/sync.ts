import { createPrivateKey, type KeyObject, randomUUID, sign } from 'node:crypto';
import { canonicalJson } from '@palisade/ledger';
import { postBatch } from './batch-post.ts';
import {
  type AppliedAnswer,
  appliedAnswer,
  type RefusedForGood,
  refusedByIndex,
  refusedForGood,
  tooLargeForGood,
} from './batch-refusal.ts';
import type { Outbox, PendingBatch } from './outbox.ts';
import type { Refusal } from './outbox-quarantine.ts';
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
  /**
   * Most bytes of messages per batch body (under the platform's `bodyLimit`, which refuses a
   * larger body with 413 however often it is resent); `DEFAULT_BATCH_MAX_BYTES` when absent.
   */
  readonly batchMaxBytes?: number;
  /** Pause when the outbox is empty. */
  readonly idleMs: number;
  /** A send with no answer within this time counts as a link failure (the batch is resent). */
  readonly requestTimeoutMs?: number;
}

/** The platform's default `bodyLimit` (1 MiB) less room for the batch's signatures and ids. */
export const DEFAULT_BATCH_MAX_BYTES = 1_000_000;

export const DEFAULT_SYNC: SyncSettings = {
  batchMaxMessages: 1000,
  batchMaxBytes: DEFAULT_BATCH_MAX_BYTES,
  backoffBaseMs: 200,
  backoffMaxMs: 30_000,
  idleMs: 250,
  requestTimeoutMs: 60_000,
};

/** What the loop reports as it goes (for logs and metrics). */
export interface SyncEvents {
  /**
   * The platform applied `batch`: it left the outbox; `result.applied` of its messages took
   * effect, those in `result.refused` were set aside (see `setAside`).
   */
  synced?(batch: PendingBatch, result: AppliedAnswer): void;
  failed?(error: unknown, failures: number, retryInMs: number): void;
  /** The platform refused `messages` for good: they are in quarantine as batch `batchId`. */
  setAside?(batchId: string, messages: number, refusal: Refusal): void;
  /**
   * The node's clock is `offsetMs` behind the platform's (ahead when negative), by more than
   * CLOCK_SKEW_WARN_MS; told again at most every CLOCK_SKEW_REPEAT_MS while it lasts.
   */
  clockSkew?(offsetMs: number): void;
}

/**
 * How far the node's clock may be off the platform's before it is told: messages without a
 * timestamp of their own are stamped by the node's clock, and the platform refuses a stamp
 * more than `telemetryMaxFutureMs` (5 minutes by default) ahead of its own.
 */
export const CLOCK_SKEW_WARN_MS = 30_000;
const CLOCK_SKEW_REPEAT_MS = 600_000;

/**
 * The platform's clock less the node's, from an answer's `Date` header (to the second, and
 * sent before the answer arrived: a second and a round trip are within the margin).
 */
export function clockOffsetMs(date: string | null, now: number): number | undefined {
  const platform = date === null ? Number.NaN : Date.parse(date);
  return Number.isNaN(platform) ? undefined : platform - now;
}

/**
 * The platform's body limit refused a batch (413) that an earlier send may have had applied,
 * its answer lost (a link cut, a timeout, a crash), before the limit was lowered or a proxy's
 * came in between. Formed again under new ids, its messages would be applied twice, so it is
 * resent as it is until the limit lets it through.
 */
export class BatchMayBeAppliedError extends PlatformRefusedError {
  readonly batchId: string;
  /** Size of the batch's request body: the limit must be raised above it. */
  readonly bytes: number;
  constructor(batch: SignedBatch, body: string, retryAfter: string | null) {
    super(413, body, retryAfter);
    this.name = 'BatchMayBeAppliedError';
    this.batchId = batch.batch.batchId;
    this.bytes = Buffer.byteLength(batch.body);
    this.message = `${this.message}; batch ${this.batchId} (${this.bytes} bytes) may already have been applied by an earlier send whose answer was lost, so it is not formed again smaller`;
  }
}

/** A formed batch with its request body (content and both signatures), ready to send. */
interface SignedBatch {
  readonly batch: PendingBatch;
  readonly body: string;
}

/**
 * Sends the outbox to the platform: one signed batch at a time, in the order they were formed,
 * the same batch (id and content) until the platform confirms it, then the next; messages are
 * deleted only after confirmation. While a batch is in flight the next one is formed and
 * signed (it waits, formed, in the outbox, so a crash resends it unchanged), but it is sent
 * only once the one before is confirmed, so batches apply in order. Failures back off
 * exponentially with full jitter, and never for less than the platform's `Retry-After` (a 429
 * from the tenant's quota says when to come back). A batch the platform refuses for good
 * (see `refusedForGood`) is set aside in the outbox's quarantine, so it blocks nothing behind
 * it; when the platform names the refused messages of a batch no send of which can have been
 * applied, only those are set aside and the rest is formed again.
 */
export class SyncLoop {
  readonly #outbox: Outbox;
  readonly #node: NodeIdentity;
  readonly #settings: SyncSettings;
  readonly #events: SyncEvents;
  /** When the clock skew was last told, if it was. */
  #skewToldAt: number | undefined;
  readonly #ed25519: KeyObject;
  readonly #mldsa65: KeyObject;
  /** Formed and signed batches not yet confirmed, oldest (the one to send) first. */
  readonly #ready: SignedBatch[] = [];
  /** Bytes a batch may take: `batchMaxBytes`, halved after each 413. */
  #maxBytes: number;
  #stopped = false;
  #failures = 0;
  #link: string | undefined;
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
    this.#maxBytes = settings.batchMaxBytes ?? DEFAULT_BATCH_MAX_BYTES;
    this.#events = events;
    this.#ed25519 = createPrivateKey(node.ed25519);
    this.#mldsa65 = createPrivateKey(node.mldsa65);
  }

  /** The next batch after those already in hand (a formed one first), signed; undefined when none. */
  #form(): SignedBatch | undefined {
    const inHand = new Set(this.#ready.map((r) => r.batch.batchId));
    const batch = this.#outbox.nextBatch(
      this.#settings.batchMaxMessages,
      randomUUID,
      inHand,
      this.#maxBytes,
    );
    if (batch === undefined) return undefined;
    const content = { nodeId: this.#node.nodeId, ...batch };
    const bytes = Buffer.from(canonicalJson(content), 'utf8');
    const signatures = {
      ed25519: sign(null, bytes, this.#ed25519).toString('base64'),
      mldsa65: sign(null, bytes, this.#mldsa65).toString('base64'),
    };
    const signed = { batch, body: JSON.stringify({ ...content, signatures }) };
    this.#ready.push(signed);
    return signed;
  }

  /**
   * Sends one batch; true when the outbox moved on (the batch was confirmed, or refused for
   * good and set aside). Throws when the link or platform fails.
   */
  async syncOnce(): Promise<boolean> {
    const current = this.#ready[0] ?? this.#form();
    if (current === undefined) return false;
    const { batchId } = current.batch;
    const sentBefore = this.#outbox.sending(batchId, { lastAttempt: new Date().toISOString() });
    const { sent, answer } = postBatch(
      new URL('/v1/edge/batches', this.#node.url),
      this.#node.credential,
      current.body,
      this.#settings.requestTimeoutMs,
    );
    // While the platform applies this batch, form and sign the next one (once this one is out).
    let out: boolean;
    try {
      out = await Promise.race([sent.then(() => true), answer.then(() => false)]);
    } catch (error) {
      // The request failed before its whole body left: the platform cannot have applied it.
      if (!sentBefore) this.#outbox.notSent(batchId);
      throw error;
    }
    if (out && this.#ready.length === 1) this.#form();
    const { status, text, retryAfter, date } = await answer;
    this.#checkClock(date);
    if (status === 413 && current.batch.messages.length > 1) {
      if (sentBefore) throw new BatchMayBeAppliedError(current, text, retryAfter);
      this.#formSmaller(current);
    }
    if (status === 413 && current.batch.messages.length === 1 && !sentBefore) {
      const error = new PlatformRefusedError(status, text, retryAfter);
      this.#setAside(current, tooLargeForGood(error, Buffer.byteLength(current.body)), false);
      return true;
    }
    if (status !== 200) {
      const error = new PlatformRefusedError(status, text, retryAfter);
      const forGood = refusedForGood(error);
      if (forGood === undefined) throw error;
      this.#setAside(current, forGood, sentBefore);
      return true;
    }
    const result = appliedAnswer(text, batchId);
    if (result === undefined) throw new PlatformRefusedError(status, text, retryAfter);
    this.#confirm(current, result, text);
    return true;
  }

  /**
   * The platform applied `confirmed`: its messages leave the outbox, but those the answer
   * refused by index, which the node had acknowledged to their devices: they are set aside
   * in quarantine (one never-sent batch per code), where the operator sees them.
   */
  #confirm(confirmed: SignedBatch, result: AppliedAnswer, text: string): void {
    const { batchId, messages } = confirmed.batch;
    const refused = refusedByIndex(result, messages.length).map((r) => ({
      batchId: randomUUID(),
      messages: r.messages,
      refusal: r.refusal,
    }));
    this.#ready.shift();
    this.#outbox.confirm(
      batchId,
      { lastSync: new Date().toISOString(), lastResult: text },
      refused,
    );
    for (const aside of refused)
      this.#events.setAside?.(aside.batchId, aside.messages.length, aside.refusal);
    this.#events.synced?.(confirmed.batch, result);
  }

  #checkClock(date: string | null): void {
    const offset = clockOffsetMs(date, Date.now());
    if (offset === undefined || Math.abs(offset) <= CLOCK_SKEW_WARN_MS) return;
    const now = Date.now();
    if (this.#skewToldAt !== undefined && now - this.#skewToldAt < CLOCK_SKEW_REPEAT_MS) return;
    this.#skewToldAt = now;
    this.#events.clockSkew?.(offset);
  }

  /**
   * The platform's body limit refused `refused` unread, and no earlier send of it may have
   * reached the platform: it and every batch never sent are formed again, at most half its
   * size, in the same order.
   */
  #formSmaller(refused: SignedBatch): void {
    this.#maxBytes = Math.floor(Buffer.byteLength(refused.body) / 2);
    this.#ready.length = 0;
    this.#outbox.unformUnsent(refused.batch.batchId);
  }

  /**
   * Sets aside the messages the platform named, when no earlier send of the batch may have
   * been applied and it holds others (those are formed again, with every batch never sent);
   * else the whole batch as it is.
   */
  #setAside(refused: SignedBatch, { refusal, messages }: RefusedForGood, sentBefore: boolean) {
    const { batchId } = refused.batch;
    const named = messages.filter((i) => i < refused.batch.messages.length);
    if (!sentBefore && named.length > 0 && named.length < refused.batch.messages.length) {
      const aside = randomUUID();
      this.#ready.length = 0;
      this.#outbox.quarantine.setAsideMessages(batchId, named, aside, refusal);
      this.#events.setAside?.(aside, named.length, refusal);
      return;
    }
    this.#ready.shift();
    this.#outbox.quarantine.setAside(batchId, refusal);
    this.#events.setAside?.(batchId, refused.batch.messages.length, refusal);
  }

  /** Runs until `stop`; a batch in flight is finished (confirmed or failed) before it returns. */
  async run(): Promise<void> {
    while (!this.#stopped) {
      let wait = this.#settings.idleMs;
      try {
        const sent = await this.syncOnce();
        this.#failures = 0;
        this.#setLink('up');
        if (sent) wait = 0;
      } catch (error) {
        this.#failures += 1;
        this.#setLink(`down: ${(error as Error).message}`);
        wait = retryDelay(this.#failures, this.#settings, error);
        this.#events.failed?.(error, this.#failures, Math.round(wait));
      }
      if (wait > 0 && !this.#stopped) await this.#sleep(wait);
    }
  }

  /** Records the link state for `status`, writing only when it changed (each write is an fsync). */
  #setLink(state: string): void {
    if (state === this.#link) return;
    this.#outbox.setState('link', state);
    this.#link = state;
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
