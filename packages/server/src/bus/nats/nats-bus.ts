import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { headers, nanos } from '@nats-io/transport-node';
import type { TenantContext } from '../../tenancy/index.ts';
import type {
  Bus,
  BusEvent,
  BusLimits,
  BusMessage,
  PlatformBus,
  SubscribeOptions,
  Subscription,
} from '../bus.ts';
import { BusError } from '../bus-error.ts';
import {
  checkEvent,
  consumerName,
  filterSubject,
  parseSubject,
  tenantConsumerPrefix,
} from '../subjects.ts';
import { connectNats, type NatsLink } from './nats-connection.ts';

/** Messages a subscription pulls ahead of its handler (each one's ack wait starts at delivery). */
const PULL_BATCH = 32;
/**
 * Default `inactive_threshold` of a transient consumer. A subscriber keeps a pull open all the
 * time, so only a consumer whose process is gone goes this long without one.
 */
const TRANSIENT_IDLE_MS = 60_000;
/** Message sequence numbers an erasure lists per fetch, and its deletes in flight at once. */
const ERASE_LIST_BATCH = 1_000;
const ERASE_IN_FLIGHT = 128;

/** The NATS bus's own settings on top of the shared limits. */
export interface NatsBusOptions extends BusLimits {
  readonly url: string;
  /** The stream's `duplicate_window`: how long a `Nats-Msg-Id` is remembered. */
  readonly duplicateWindowMs: number;
}

/** The JetStream stream of a prefix: `palisade` → `PALISADE`. */
export function streamName(prefix: string): string {
  return prefix.toUpperCase();
}

function notFound(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

function unavailable(what: string, error: unknown): BusError {
  return new BusError('PALISADE_BUS_UNAVAILABLE', `${what}: ${(error as Error).message}`, {
    cause: error,
  });
}

/**
 * The scale-out bus: one JetStream stream per platform capturing `<prefix>.>`, durable pull
 * consumers with explicit ack, `ack_wait` and `max_deliver` from the settings, and every
 * publish carrying `Nats-Msg-Id` = `<tenant>/<id>` so a retried publish is stored once
 * (within the duplicate window) and one tenant's ids can never shadow another's.
 */
export class NatsBus implements Bus {
  readonly name = 'nats';
  readonly platform: PlatformBus;
  readonly #link: NatsLink;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #options: NatsBusOptions;
  readonly #stream: string;
  readonly #subscriptions = new Set<NatsSubscription>();
  /** Tenants erased while this bus was open: their publishes store nothing. */
  readonly #erased = new Set<string>();
  #closed = false;

  private constructor(link: NatsLink, jsm: JetStreamManager, options: NatsBusOptions) {
    this.#link = link;
    this.#jsm = jsm;
    this.#js = jetstream(link.nc);
    this.#options = options;
    this.#stream = streamName(options.prefix);
    this.platform = {
      publish: (tenantId, event) => this.#publish(tenantId, [event]),
      publishBatch: (tenantId, events) => this.#publish(tenantId, events),
      subscribe: (options) => this.#subscribe(undefined, options),
      deleteConsumer: async (durable, tenantId) => {
        this.#open();
        await this.#jsm.consumers
          .delete(this.#stream, consumerName(durable, tenantId))
          .catch((error: unknown) => {
            if (!notFound(error, JetStreamApiCodes.ConsumerNotFound))
              throw unavailable('deleting a consumer', error);
          });
      },
      eraseTenant: (tenantId) => this.#eraseTenant(tenantId),
    };
  }

  /** Connects and creates (or updates) the platform's stream. */
  static async open(options: NatsBusOptions): Promise<NatsBus> {
    let link: NatsLink;
    try {
      link = await connectNats(options.url, `palisade-${options.prefix}`);
    } catch (error) {
      throw unavailable(
        `connecting to NATS at ${new URL(options.url).host} (check --nats / PALISADE_NATS, and that nats-server runs there with JetStream)`,
        error,
      );
    }
    try {
      const jsm = await jetstreamManager(link.nc);
      const config = {
        name: streamName(options.prefix),
        subjects: [`${options.prefix}.>`],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        max_age: nanos(options.maxAgeMs),
        duplicate_window: nanos(Math.min(options.duplicateWindowMs, options.maxAgeMs)),
        max_msg_size: options.maxPayload,
      };
      try {
        await jsm.streams.info(config.name);
        await jsm.streams.update(config.name, config);
      } catch (error) {
        if (!notFound(error, JetStreamApiCodes.StreamNotFound)) throw error;
        await jsm.streams.add(config);
      }
      return new NatsBus(link, jsm, options);
    } catch (error) {
      await link.close();
      throw error instanceof BusError
        ? error
        : unavailable('setting up the JetStream stream', error);
    }
  }

  publish(context: TenantContext, event: BusEvent): Promise<void> {
    return this.#publish(context.tenantId, [event]);
  }

  subscribe(context: TenantContext, options: SubscribeOptions): Promise<Subscription> {
    return this.#subscribe(context.tenantId, options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.stop()));
    await this.#link.close();
  }

  #open(): void {
    if (this.#closed) throw new BusError('PALISADE_BUS_UNAVAILABLE', 'the bus is closed');
  }

  /**
   * Erases the tenant's consumers, then each of its messages with the erase flag (JetStream
   * overwrites a message so deleted). Messages are deleted one by one, not by a filtered
   * purge: a purge moves every consumer whose filter is wider than the purged subjects (the
   * platform's own, `<root>.*.>`) past what other tenants published meanwhile (nats-server
   * 2.9), so they would never be delivered. A deleted message is skipped by every consumer.
   * Every process erases the tenant on the deletion notice, so erasures overlap: a message
   * another one deleted first counts as deleted.
   */
  async #eraseTenant(tenantId: string): Promise<void> {
    this.#open();
    const filter = filterSubject(this.#options.prefix, tenantId, undefined);
    this.#erased.add(tenantId);
    const own = tenantConsumerPrefix(tenantId);
    try {
      for await (const consumer of await this.#jsm.consumers.list(this.#stream)) {
        if (!consumer.name.startsWith(own)) continue;
        await this.#jsm.consumers.delete(this.#stream, consumer.name).catch((error: unknown) => {
          if (!notFound(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
        });
      }
      const first = await this.#nextStored(filter, 1);
      if (first === undefined) return;
      await this.#eraseListed(filter, first);
      // What the listing did not reach: a publish another process had under way.
      for (let seq = await this.#nextStored(filter, 1); seq !== undefined; ) {
        await this.#eraseMessage(seq);
        seq = await this.#nextStored(filter, seq + 1);
      }
    } catch (error) {
      throw unavailable(`erasing tenant ${tenantId} from JetStream`, error);
    }
  }

  /** The sequence number of the first message at or after `seq` on `filter`, if any. */
  async #nextStored(filter: string, seq: number): Promise<number | undefined> {
    const next = { next_by_subj: filter, seq } as unknown as { seq: number };
    return (await this.#jsm.streams.getMessage(this.#stream, next))?.seq;
  }

  /**
   * Erases every message on `filter` from `first` on, as an ordered consumer lists them
   * (headers only), ERASE_IN_FLIGHT deletes at a time: one request each, without waiting for
   * the one before, where finding each next message by itself would cost a round trip more.
   */
  async #eraseListed(filter: string, first: number): Promise<void> {
    const listing = await this.#js.consumers.get(this.#stream, {
      filter_subjects: filter,
      headers_only: true,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: first,
      inactive_threshold: nanos(TRANSIENT_IDLE_MS),
    });
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    const erase = (seq: number) => {
      const erasing: Promise<void> = this.#eraseMessage(seq)
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => inFlight.delete(erasing));
      inFlight.add(erasing);
    };
    try {
      // Another process erasing too can delete the last messages before they are listed, so
      // whether any are left is asked, not taken from the listing's count of pending ones.
      for (let next: number | undefined = first; next !== undefined && !failure; ) {
        const batch = await listing.fetch({ max_messages: ERASE_LIST_BATCH, expires: 1_000 });
        let last = 0;
        for await (const message of batch) {
          last = message.seq;
          erase(message.seq);
          if (inFlight.size >= ERASE_IN_FLIGHT) await Promise.race(inFlight);
          // A fetch waits out its expiry for messages to fill it; none are left to come.
          if (message.info.pending === 0 || failure) batch.stop();
        }
        if (last === 0) break;
        next = await this.#nextStored(filter, last + 1);
      }
    } finally {
      await Promise.all(inFlight);
      // An ephemeral consumer: if this delete fails, the server drops it when idle.
      await listing.delete().catch(() => undefined);
    }
    if (failure) throw failure.error;
  }

  /** Deletes and overwrites one message; another process erasing the tenant too may be first. */
  async #eraseMessage(seq: number): Promise<void> {
    await this.#jsm.streams.deleteMessage(this.#stream, seq, true).catch(async (error: unknown) => {
      // JetStream answers 10057 "no message found" then, a code it uses for other failures.
      if (await this.#jsm.streams.getMessage(this.#stream, { seq })) throw error;
    });
  }

  /** Publishes in order on one connection and waits for every PubAck. */
  async #publish(tenantId: string, events: readonly BusEvent[]): Promise<void> {
    this.#open();
    if (this.#erased.has(tenantId)) return;
    const { prefix, maxPayload } = this.#options;
    const checked = events.map((event) => checkEvent(prefix, tenantId, event, maxPayload));
    try {
      await Promise.all(
        checked.map((event) => {
          const h = headers();
          h.set('Palisade-Id', event.id);
          return this.#js.publish(event.subject, event.json, {
            msgID: `${tenantId}/${event.id}`,
            headers: h,
          });
        }),
      );
    } catch (error) {
      throw unavailable('publishing to JetStream', error);
    }
  }

  async #subscribe(tenantId: string | undefined, options: SubscribeOptions): Promise<Subscription> {
    this.#open();
    const { prefix, ackWaitMs, maxDeliver } = this.#options;
    const name = consumerName(options.durable, tenantId);
    const filter = filterSubject(prefix, tenantId, options.kind);
    try {
      const info = await this.#jsm.consumers.info(this.#stream, name).catch((error: unknown) => {
        if (notFound(error, JetStreamApiCodes.ConsumerNotFound)) return undefined;
        throw error;
      });
      if (info !== undefined && info.config.filter_subject !== filter) {
        throw new BusError(
          'PALISADE_BUS_CONSUMER_CONFLICT',
          `durable ${options.durable} exists with another filter; delete it first`,
        );
      }
      const timing = { ack_wait: nanos(ackWaitMs), max_deliver: maxDeliver };
      if (info === undefined) {
        await this.#jsm.consumers.add(this.#stream, {
          durable_name: name,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: options.from === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
          filter_subject: filter,
          ...timing,
          ...(options.transient === true
            ? { inactive_threshold: nanos(this.#options.transientIdleMs ?? TRANSIENT_IDLE_MS) }
            : {}),
        });
      } else if (
        info.config.ack_wait !== timing.ack_wait ||
        info.config.max_deliver !== timing.max_deliver
      ) {
        // The consumer outlives the settings it was made with: changed ones apply to it too.
        await this.#jsm.consumers.update(this.#stream, name, timing);
      }
      const consumer = await this.#js.consumers.get(this.#stream, name);
      const messages = await consumer.consume({ max_messages: PULL_BATCH });
      const subscription = new NatsSubscription(messages, this.#options, tenantId, options, () =>
        this.#subscriptions.delete(subscription),
      );
      this.#subscriptions.add(subscription);
      return subscription;
    } catch (error) {
      throw error instanceof BusError ? error : unavailable('creating a JetStream consumer', error);
    }
  }
}

interface ConsumerMessages extends AsyncIterable<JsMsg> {
  stop(): void;
}

/** Hands the pulled messages to the handler one at a time; stops by stopping the pull. */
class NatsSubscription implements Subscription {
  readonly #messages: ConsumerMessages;
  readonly #loop: Promise<void>;
  readonly #onStop: () => void;
  #stopped = false;

  constructor(
    messages: ConsumerMessages,
    options: NatsBusOptions,
    tenantId: string | undefined,
    subscribe: SubscribeOptions,
    onStop: () => void,
  ) {
    this.#messages = messages;
    this.#onStop = onStop;
    this.#loop = this.#run(options, tenantId, subscribe);
  }

  async stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#onStop();
      this.#messages.stop();
    }
    await this.#loop;
  }

  async #run(
    options: NatsBusOptions,
    tenantId: string | undefined,
    subscribe: SubscribeOptions,
  ): Promise<void> {
    for await (const m of this.#messages) {
      if (this.#stopped) break;
      const parsed = parseSubject(options.prefix, m.subject);
      // The consumer's filter already confines it; this is the second wall.
      if (parsed === undefined || (tenantId !== undefined && parsed.tenantId !== tenantId)) {
        m.term('not this consumer’s subject');
        continue;
      }
      await deliver(m, parsed, options, subscribe);
    }
  }
}

async function deliver(
  m: JsMsg,
  parsed: NonNullable<ReturnType<typeof parseSubject>>,
  limits: BusLimits,
  subscribe: SubscribeOptions,
): Promise<void> {
  let payload: unknown;
  try {
    payload = m.json();
  } catch {
    // Not published by a Palisade bus: redelivering it would only fail again.
    m.term('payload is not JSON');
    return;
  }
  let settled = false;
  let acked = false;
  const deliveryCount = m.info.deliveryCount;
  const message: BusMessage = {
    id: m.headers?.get('Palisade-Id') ?? '',
    tenantId: parsed.tenantId,
    kind: parsed.kind,
    key: parsed.key,
    subject: m.subject,
    payload,
    deliveryCount,
    ack: async () => {
      settled = true;
      acked = true;
      await m.ackAck().catch(() => undefined);
    },
    nak: async (delayMs = 0) => {
      settled = true;
      m.nak(delayMs);
    },
  };
  try {
    await subscribe.handler(message);
  } catch {
    if (!settled) m.nak(limits.retryMs * deliveryCount);
  }
  if (!acked && deliveryCount >= limits.maxDeliver)
    limits.onGiveUp?.({
      durable: subscribe.durable,
      id: message.id,
      tenantId: message.tenantId,
      subject: message.subject,
      deliveries: deliveryCount,
    });
}
