import type { SharedUpdate } from '../attributes/index.ts';
import { type Backoff, callPlatform, retryDelay } from '../platform-call.ts';
import type { NodeIdentity } from '../sync.ts';
import type { EdgeRpcRequest, RpcAnswer, RpcRelay } from './rpc-relay.ts';

/** Named settings of the RPC link. */
export interface RpcLinkSettings extends Backoff {
  /** How long one poll waits on the platform for requests (at most its `edgeRpcWaitMaxMs`). */
  readonly waitMs: number;
  /** Beyond `waitMs`, how long a call may take before it counts as a link failure. */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_RPC_LINK: RpcLinkSettings = {
  waitMs: 20_000,
  requestTimeoutMs: 30_000,
  backoffBaseMs: 200,
  backoffMaxMs: 30_000,
};

/** What the link reports (for logs and metrics). */
export interface RpcLinkEvents {
  failed?(error: unknown, failures: number, retryInMs: number): void;
  /** The platform did not take an answer: answered already, expired, or not this node's. */
  refused?(requestId: string, outcome: string): void;
}

interface ExchangeReply {
  readonly results: readonly { requestId: string; outcome: string }[];
  readonly requests: readonly EdgeRpcRequest[];
  readonly shared?: SharedUpdate;
}

/** The node's copy of its devices' shared attributes, kept up to date by the polls. */
export interface SharedAttributeFeed {
  /** The platform's digest of the copy, sent with each poll. */
  readonly digest: string;
  /** Takes an update the platform sent; never throws (it reports its own failures). */
  apply(update: SharedUpdate): void;
}

/**
 * Carries RPC between the platform and the relay over `POST /v1/edge/rpc`: a long poll
 * brings requests down (one poll after the other while the link is up, backing off with
 * jitter and Retry-After when it is not) and confirms, with the next call, the requests the
 * last one brought; each answer a device gives goes up at once in its own short exchange,
 * so an answer never waits for a poll to end. With a `shared` feed, each poll also says
 * which copy of the devices' shared attributes the node holds, and brings what changed.
 */
export class RpcLink {
  readonly #relay: RpcRelay;
  readonly #node: NodeIdentity;
  readonly #settings: RpcLinkSettings;
  readonly #events: RpcLinkEvents;
  readonly #shared: SharedAttributeFeed | undefined;
  readonly #abort = new AbortController();
  #polling: Promise<void> = Promise.resolve();
  #sending: Promise<void> | undefined;
  /** Ids of the requests the last poll brought, confirmed to the platform with the next call. */
  #received: string[] = [];
  #stopped = false;

  constructor(
    relay: RpcRelay,
    node: NodeIdentity,
    settings: RpcLinkSettings = DEFAULT_RPC_LINK,
    events: RpcLinkEvents = {},
    shared?: SharedAttributeFeed,
  ) {
    this.#relay = relay;
    this.#node = node;
    this.#settings = settings;
    this.#events = events;
    this.#shared = shared;
  }

  async #exchange(answers: readonly RpcAnswer[], waitMs: number): Promise<ExchangeReply> {
    const received = this.#received;
    this.#received = [];
    let reply: Awaited<ReturnType<typeof callPlatform>>;
    try {
      const sharedDigest = waitMs > 0 ? this.#shared?.digest : undefined;
      reply = await callPlatform(this.#node, 'POST', '/v1/edge/rpc', {
        body: {
          responses: answers,
          received,
          waitMs,
          ...(sharedDigest === undefined ? {} : { sharedDigest }),
        },
        timeoutMs: waitMs + this.#settings.requestTimeoutMs,
        signal: this.#abort.signal,
      });
    } catch (error) {
      this.#received.push(...received);
      throw error;
    }
    const body = JSON.parse(reply.text) as ExchangeReply;
    this.#received.push(...body.requests.map((r) => r.requestId));
    for (const r of body.results)
      if (r.outcome !== 'accepted') this.#events.refused?.(r.requestId, r.outcome);
    return body;
  }

  start(): void {
    this.#polling = this.#poll();
  }

  async #poll(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      const answers = this.#relay.takeAnswers();
      try {
        const reply = await this.#exchange(answers, this.#settings.waitMs);
        failures = 0;
        await this.#relay.receive(reply.requests);
        if (reply.shared !== undefined) this.#shared?.apply(reply.shared);
      } catch (error) {
        this.#relay.restore(answers);
        if (this.#stopped) return;
        failures++;
        const wait = retryDelay(failures, this.#settings, error);
        this.#events.failed?.(error, failures, Math.round(wait));
        await this.#sleep(wait);
      }
    }
  }

  /** Sends the answers waiting now (the relay calls it when a device answers). */
  sendAnswers(): void {
    if (this.#sending !== undefined || this.#stopped) return;
    this.#sending = (async () => {
      let failures = 0;
      for (;;) {
        const answers = this.#relay.takeAnswers();
        if (answers.length === 0 || this.#stopped) break;
        try {
          await this.#exchange(answers, 0);
          failures = 0;
        } catch (error) {
          this.#relay.restore(answers);
          failures++;
          const wait = retryDelay(failures, this.#settings, error);
          this.#events.failed?.(error, failures, Math.round(wait));
          await this.#sleep(wait);
        }
      }
      this.#sending = undefined;
    })();
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#abort.signal;
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  /** Ends the poll (a request it was bringing down expires at its deadline) and the sends. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    await this.#polling;
    await this.#sending;
  }
}
