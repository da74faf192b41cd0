import type { TenantContext } from '../../tenancy/index.ts';
import { setLongTimeout } from '../../timers/index.ts';
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
import { type CheckedEvent, checkEvent, consumerName, filterSubject } from '../subjects.ts';
import { type ConsumerFilter, type StoredMessage, StreamFile } from './stream-file.ts';

/**
 * The embedded bus: a durable stream in one SQLite file (`DATA/bus.db`) with JetStream's
 * semantics — per-tenant subjects, durable consumers, explicit ack, redelivery after the ack
 * wait, at most `maxDeliver` deliveries, dedupe by message id. Delivery is in process: a
 * publish wakes the subscriptions of this process, which read the file in stream order.
 */
export class InProcessBus implements Bus {
  readonly name = 'in-process';
  readonly platform: PlatformBus;
  readonly #file: StreamFile;
  readonly #limits: BusLimits;
  readonly #subscriptions = new Set<InProcessSubscription>();
  readonly #pending: {
    events: CheckedEvent[];
    resolve: () => void;
    reject: (error: unknown) => void;
  }[] = [];
  readonly #purge: NodeJS.Timeout;
  /** Tenants erased while this bus was open: their publishes store nothing. */
  readonly #erased = new Set<string>();
  #closed = false;

  constructor(path: string, limits: BusLimits) {
    this.#file = new StreamFile(path);
    this.#limits = limits;
    this.#file.purge(Date.now() - limits.maxAgeMs);
    // Retention is checked ten times per max age (at least every second, at most hourly).
    const every = Math.min(Math.max(limits.maxAgeMs / 10, 1000), 3_600_000);
    this.#purge = setInterval(() => this.#file.purge(Date.now() - limits.maxAgeMs), every);
    this.#purge.unref();
    this.platform = {
      publish: (tenantId, event) => this.#publish(tenantId, [event]),
      publishBatch: (tenantId, events) => this.#publish(tenantId, events),
      subscribe: (options) => this.#subscribe(undefined, options),
      deleteConsumer: async (durable, tenantId) => {
        this.#open();
        this.#file.deleteConsumer(consumerName(durable, tenantId));
      },
      eraseTenant: async (tenantId) => {
        this.#open();
        filterSubject(this.#limits.prefix, tenantId, undefined);
        this.#erased.add(tenantId);
        await this.#file.eraseTenant(tenantId);
      },
    };
  }

  publish(context: TenantContext, event: BusEvent): Promise<void> {
    return this.#publish(context.tenantId, [event]);
  }

  subscribe(context: TenantContext, options: SubscribeOptions): Promise<Subscription> {
    return this.#subscribe(context.tenantId, options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    clearInterval(this.#purge);
    await Promise.all([...this.#subscriptions].map((s) => s.stop()));
    await this.#file.close();
  }

  #open(): void {
    if (this.#closed) throw new BusError('PALISADE_BUS_UNAVAILABLE', 'the bus is closed');
  }

  async #publish(tenantId: string, events: readonly BusEvent[]): Promise<void> {
    this.#open();
    if (this.#erased.has(tenantId)) return;
    const checked: CheckedEvent[] = events.map((event) =>
      checkEvent(this.#limits.prefix, tenantId, event, this.#limits.maxPayload),
    );
    if (checked.length === 0) return;
    return new Promise((resolve, reject) => {
      this.#pending.push({ events: checked, resolve, reject });
      if (this.#pending.length === 1) setImmediate(() => this.#flush());
    });
  }

  /**
   * Group append: every publish of one event-loop turn shares one transaction, and
   * transactions committed while an fsync runs share the next (see StreamFile). Publishers
   * and consumers hear of the events once they are durable.
   */
  #flush(): void {
    const batch = this.#pending.splice(0);
    if (batch.length === 0) return;
    let durable: Promise<void>;
    try {
      this.#open();
      durable = this.#file.append(
        batch.flatMap((p) => p.events.filter((e) => !this.#erased.has(e.tenantId))),
        Date.now(),
      );
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    durable.then(
      () => {
        for (const p of batch) p.resolve();
        for (const subscription of this.#subscriptions) subscription.wake();
      },
      (error: unknown) => {
        for (const p of batch) p.reject(error);
      },
    );
  }

  async #subscribe(tenantId: string | undefined, options: SubscribeOptions): Promise<Subscription> {
    this.#open();
    const name = consumerName(options.durable, tenantId);
    const wanted: ConsumerFilter = { tenant: tenantId ?? null, kind: options.kind ?? null };
    filterSubject(this.#limits.prefix, tenantId, options.kind);
    const existing = this.#file.ensureConsumer(name, wanted, options.from, options.transient);
    if (existing.tenant !== wanted.tenant || existing.kind !== wanted.kind) {
      throw new BusError(
        'PALISADE_BUS_CONSUMER_CONFLICT',
        `durable ${options.durable} exists with another filter; delete it first`,
      );
    }
    const subscription = new InProcessSubscription(
      this.#file,
      this.#limits,
      name,
      wanted,
      options,
      () => this.#subscriptions.delete(subscription),
      (tenant) => this.#erased.has(tenant),
    );
    this.#subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }
}

/** One running consumer: claims a delivery, awaits its handler, sleeps until woken or due. */
class InProcessSubscription implements Subscription {
  readonly #file: StreamFile;
  readonly #limits: BusLimits;
  readonly #name: string;
  readonly #filter: ConsumerFilter;
  readonly #options: SubscribeOptions;
  readonly #onStop: () => void;
  /** Whether the tenant is erased (or being erased): its messages are settled, not handed out. */
  readonly #erased: (tenant: string) => boolean;
  #stopped = false;
  #woken = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> = Promise.resolve();

  constructor(
    file: StreamFile,
    limits: BusLimits,
    name: string,
    filter: ConsumerFilter,
    options: SubscribeOptions,
    onStop: () => void,
    erased: (tenant: string) => boolean,
  ) {
    this.#file = file;
    this.#limits = limits;
    this.#name = name;
    this.#filter = filter;
    this.#options = options;
    this.#onStop = onStop;
    this.#erased = erased;
  }

  start(): void {
    this.#loop = this.#run();
  }

  wake(): void {
    this.#woken = true;
    this.#wake?.();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return this.#loop;
    this.#stopped = true;
    this.#onStop();
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { ackWaitMs, maxDeliver } = this.#limits;
    while (!this.#stopped) {
      this.#woken = false;
      const next = this.#file.claim(this.#name, this.#filter, Date.now(), ackWaitMs, maxDeliver);
      if (next !== undefined) {
        // An erasure deletes in batches, yielding between them: what it has not reached yet
        // is not delivered meanwhile (and skipping it holds the event loop no longer).
        if (this.#erased(next.tenant)) {
          this.#file.settle(this.#name, next.seq);
          await new Promise<void>((resolve) => setImmediate(resolve));
        } else await this.#deliver(next);
        continue;
      }
      if (!this.#woken) await this.#sleep(this.#file.nextDue(this.#name));
    }
  }

  #sleep(due: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      // Due may be past a timer's limit: the ack wait is any length, and a failed handler's
      // back-off is the retry delay times its deliveries.
      const cancel =
        due === undefined ? undefined : setLongTimeout(done, Math.max(0, due - Date.now()));
      function done() {
        cancel?.();
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }

  async #deliver(stored: StoredMessage): Promise<void> {
    let settled = false;
    let acked = false;
    const key = stored.subject.split('.').slice(3);
    const message: BusMessage = {
      id: stored.id,
      tenantId: stored.tenant,
      kind: stored.kind,
      key,
      subject: stored.subject,
      payload: JSON.parse(stored.payload),
      deliveryCount: stored.deliveries,
      ack: async () => {
        settled = true;
        acked = true;
        if (!this.#file.isClosed) this.#file.settle(this.#name, stored.seq);
      },
      nak: async (delayMs = 0) => {
        settled = true;
        if (!this.#file.isClosed)
          this.#file.reschedule(this.#name, stored.seq, Date.now() + delayMs);
        this.wake();
      },
    };
    try {
      await this.#options.handler(message);
    } catch {
      if (!settled) await message.nak(this.#limits.retryMs * stored.deliveries);
    }
    if (!acked && stored.deliveries >= this.#limits.maxDeliver)
      this.#limits.onGiveUp?.({
        durable: this.#options.durable,
        id: message.id,
        tenantId: message.tenantId,
        subject: message.subject,
        deliveries: stored.deliveries,
      });
  }
}
