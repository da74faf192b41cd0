import type { TenantContext } from '../tenancy/index.ts';

/**
 * What a platform event is about. Closed: a subject's third token is always one of these,
 * so a consumer's filter can never be widened by a kind a caller made up.
 */
export const BUS_KINDS = [
  'tenant',
  'api-key',
  'collection',
  'record',
  'key',
  'ledger',
  'device',
  'telemetry',
] as const;

export type BusKind = (typeof BUS_KINDS)[number];

/** One event to publish: its subject is `<root>.<tenant>.<kind>.<key tokens…>`. */
export interface BusEvent {
  readonly kind: BusKind;
  /** One subject token, or up to `BUS_KEY_TOKENS_MAX` of them (`['orders', id]`). */
  readonly key: string | readonly string[];
  /**
   * Stable id, the same however often the event is published: `<tenant>:<ledger seq>` for
   * write events. The bus stores each id once (NATS: `Nats-Msg-Id` within the duplicate
   * window); handlers dedupe redeliveries by it.
   */
  readonly id: string;
  /** JSON-serialisable body. Never plaintext of encrypted fields. */
  readonly payload: unknown;
}

/** One delivery of a stored event to a durable consumer. */
export interface BusMessage {
  readonly id: string;
  readonly tenantId: string;
  readonly kind: BusKind;
  readonly key: readonly string[];
  readonly subject: string;
  readonly payload: unknown;
  /** 1 on the first delivery; more after an ack timeout or a nak. */
  readonly deliveryCount: number;
  /** Done: never delivered to this consumer again. */
  ack(): Promise<void>;
  /** Not done: redeliver after `delayMs` (0: at once), up to `busMaxDeliver` deliveries. */
  nak(delayMs?: number): Promise<void>;
}

/**
 * Handles one message. It must `ack()` what it finished; a message neither acked nor nak'd is
 * redelivered after `busAckWaitMs`, and a handler that throws has its message nak'd with a
 * back-off. Messages of one subscription are handed over one at a time in stream order.
 */
export type BusHandler = (message: BusMessage) => Promise<void> | void;

export interface SubscribeOptions {
  /** Durable consumer name (`[A-Za-z0-9_-]{1,64}`): its position survives restarts. */
  readonly durable: string;
  /** Only events of this kind; all kinds when absent. */
  readonly kind?: BusKind;
  /**
   * Where a consumer that does not exist yet starts: at the oldest retained event (`all`,
   * the default) or after the newest (`new`, for live views). An existing consumer resumes.
   */
  readonly from?: 'all' | 'new';
  /**
   * The consumer lives only as long as its subscriber (a live view): one left behind by a
   * process that died without deleting it is removed by the bus, at the next start of the
   * in-process bus, or by JetStream after `transientIdleMs` with no pull from it.
   */
  readonly transient?: boolean;
  readonly handler: BusHandler;
}

export interface Subscription {
  /** Stops delivering; the durable consumer and its unacked messages stay. */
  stop(): Promise<void>;
}

/**
 * Platform-wide access, for the platform's own publishers (the ledger relay, which has a
 * committed tenant id, not a request) and workers that serve every tenant. Tenant-facing
 * code never gets this: it uses the TenantContext methods of `Bus`.
 */
export interface PlatformBus {
  publish(tenantId: string, event: BusEvent): Promise<void>;
  /** Publishes events of one tenant in order, all or (on error) a prefix of them. */
  publishBatch(tenantId: string, events: readonly BusEvent[]): Promise<void>;
  /** A consumer over every tenant's events (optionally of one kind). */
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Removes a durable consumer (tenant-scoped ones by tenant id) and its state. */
  deleteConsumer(durable: string, tenantId?: string): Promise<void>;
  /**
   * Erases a deleted tenant from the stream: every stored message on its subjects (overwritten
   * where the store can, not merely unlinked) and its tenant-scoped consumers. From then on
   * this bus stores nothing more of the tenant: a publish of it resolves having stored
   * nothing. Other tenants' messages, and every consumer's position among them and unacked
   * deliveries of them, stay as they were.
   */
  eraseTenant(tenantId: string): Promise<void>;
}

/**
 * The platform's event bus: durable, at-least-once, per-tenant subjects. Implemented in
 * process (a SQLite stream under DATA) and on NATS JetStream; both pass
 * `test/bus-conformance.test.ts`.
 */
export interface Bus {
  readonly name: 'in-process' | 'nats';
  /** Publishes into the caller's tenant; the subject's tenant comes from the context only. */
  publish(context: TenantContext, event: BusEvent): Promise<void>;
  /** A durable consumer that can only ever see the context's tenant's subjects. */
  subscribe(context: TenantContext, options: SubscribeOptions): Promise<Subscription>;
  readonly platform: PlatformBus;
  /** Stops every subscription and releases the connection or file. Idempotent. */
  close(): Promise<void>;
}

/** Limits and timings shared by both implementations (from the `bus*` settings). */
export interface BusLimits {
  /** Subject root and (upper-cased) NATS stream name. */
  readonly prefix: string;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly maxAgeMs: number;
  readonly maxPayload: number;
  /** Base back-off before a failed handler's message is redelivered. */
  readonly retryMs: number;
  /**
   * Called when a message's last delivery (the `maxDeliver`th) ends unacked: the consumer
   * never sees it again, so the platform logs it rather than lose it without a trace.
   */
  readonly onGiveUp?: (given: GivenUpMessage) => void;
  /** How long JetStream keeps a transient consumer no one pulls from (default one minute). */
  readonly transientIdleMs?: number;
}

/** A message a durable consumer gave up on after `maxDeliver` deliveries. */
export interface GivenUpMessage {
  readonly durable: string;
  readonly id: string;
  readonly tenantId: string;
  readonly subject: string;
  readonly deliveries: number;
}
