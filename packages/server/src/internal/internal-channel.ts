/**
 * Calls between Palisade processes (roles), on core NATS: fire-and-forget notices and
 * request/reply. Every message and every reply carries a service token (`Palisade-Service`
 * header) binding its subject, payload, sender roles and a short lifetime; a receiver drops
 * whatever fails the check or repeats a token it already took, counts it (`palisade_internal_refused_total`) and logs a warning.
 * These subjects live under `_palisade_internal.<busPrefix>.` — outside the JetStream stream
 * (`<busPrefix>.>`), so nothing internal is stored and no tenant consumer can see it.
 */
import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { ReplayGuard } from './replay-guard.ts';
import type { ServiceTokens, TokenRefusal } from './service-token.ts';

/** What crosses processes; each topic names who may send it and who may answer it. */
export const INTERNAL_TOPICS = {
  /**
   * api → the process holding device `<tenant>.<device>`: deliver stored RPC request
   * `{rpcId}`. That is an ingest process (MQTT; for a gateway's child, the one holding the
   * gateway's connection) or an api process (a device behind an edge node, whose polls
   * attach it there). Also ingest/api → the others: a request whose write
   * to the device's connection failed there, the device gone from that process, is queued again.
   */
  'rpc.deliver': { senders: ['api', 'ingest'], repliers: ['ingest', 'api'] },
  /** ingest/api → api: `{tenantId, deviceId, rpcId}` was answered; re-read it. */
  'rpc.answered': { senders: ['ingest', 'api'], repliers: [] },
  /** any → worker: `{tenantId}` committed a batch; its log needs sealing. */
  'ledger.dirty': { senders: ['api', 'ingest', 'worker'], repliers: [] },
  /** api → worker: seal `{tenantId}` now (a proof is waiting for it). */
  'ledger.seal': { senders: ['api'], repliers: ['worker'] },
  /** api → worker: run key job `{tenantId, jobId}`. */
  'keys.job': { senders: ['api'], repliers: [] },
  /**
   * api → every process: tenant `{tenantId, slug}` is deleted; close its MQTT connections and
   * live streams, forget its cached credentials, rate buckets, DPoP proofs and other
   * per-tenant memory and its relay cursor, and erase it from the bus.
   */
  'tenant.deleted': { senders: ['api'], repliers: [] },
  /**
   * api → every process: tenant `{tenantId}` was suspended, resumed or changed plan; forget
   * its cached credentials, issuer and roles, so the change holds at the next request.
   */
  'tenant.changed': { senders: ['api'], repliers: [] },
  /** api → every process: tenant `{tenantId}` was shredded; destroy its cached keys. */
  'keys.shred': { senders: ['api'], repliers: [] },
  /**
   * worker → every process: a key job retired old data key versions of `{tenantId}`; destroy
   * its cached keys.
   */
  'keys.retired': { senders: ['worker'], repliers: [] },
  /**
   * api → every process: a device's shared attributes changed (`{tenantId, deviceId,
   * changed, deleted}`); the processes holding its MQTT connections push the change.
   */
  'device.attributes': { senders: ['api'], repliers: [] },
} as const satisfies Record<string, { senders: readonly string[]; repliers: readonly string[] }>;

export type InternalTopic = keyof typeof INTERNAL_TOPICS;

const TOKEN_HEADER = 'Palisade-Service';

/** Handles a verified message; what it returns is the (signed) reply to a request. */
export type InternalHandler = (payload: unknown) => Promise<unknown> | unknown;

export interface InternalChannelOptions {
  readonly nc: NatsConnection;
  readonly prefix: string;
  readonly tokens: ServiceTokens;
  /** How long a request waits for its reply. */
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
  readonly metrics?: Registry | undefined;
}

/** Signed notices and requests between this process and the others. */
export class InternalChannel {
  readonly #o: InternalChannelOptions;
  readonly #refused: Counter<'reason' | 'topic'>;
  readonly #replays = new ReplayGuard();

  constructor(options: InternalChannelOptions) {
    this.#o = options;
    this.#refused = new Counter({
      name: 'palisade_internal_refused_total',
      help: 'Internal messages and replies refused (unsigned, expired, forged or mismatched), by reason and topic',
      labelNames: ['reason', 'topic'],
      registers: options.metrics === undefined ? [] : [options.metrics],
    });
  }

  /**
   * Calls `listener` after each reconnection to NATS: notices sent while this process was
   * disconnected are lost (core NATS keeps nothing), so a receiver re-reads what they carry.
   */
  onReconnect(listener: () => void): void {
    void (async () => {
      for await (const status of this.#o.nc.status()) if (status.type === 'reconnect') listener();
    })();
  }

  /** The subject of `topic` with its extra tokens (already subject-safe). */
  subject(topic: InternalTopic, tokens: readonly string[] = []): string {
    return ['_palisade_internal', this.#o.prefix, topic, ...tokens].join('.');
  }

  /** Sends a signed notice; no one answers. */
  async publish(topic: InternalTopic, tokens: readonly string[], payload: unknown): Promise<void> {
    const subject = this.subject(topic, tokens);
    const data = Buffer.from(JSON.stringify(payload));
    this.#o.nc.publish(subject, data, { headers: await this.#signed(subject, data) });
  }

  /**
   * Sends a signed request and returns the verified reply, or undefined when no process
   * answers (none subscribed, or none within `requestTimeoutMs`) or the reply is refused.
   */
  async request(
    topic: InternalTopic,
    tokens: readonly string[],
    payload: unknown,
  ): Promise<unknown | undefined> {
    const subject = this.subject(topic, tokens);
    const data = Buffer.from(JSON.stringify(payload));
    let reply: Msg;
    try {
      reply = await this.#o.nc.request(subject, data, {
        timeout: this.#o.requestTimeoutMs,
        headers: await this.#signed(subject, data),
      });
    } catch {
      return undefined;
    }
    return this.#accept(topic, reply, INTERNAL_TOPICS[topic].repliers);
  }

  /**
   * Handles `topic` messages (on `tokens`, which may end in `>`). A request is answered with
   * the handler's result; a refused message is dropped unanswered. Returns the unsubscriber.
   */
  subscribe(
    topic: InternalTopic,
    tokens: readonly string[],
    handler: InternalHandler,
    options: { queue?: string } = {},
  ): () => void {
    const subscription = this.#o.nc.subscribe(this.subject(topic, tokens), {
      ...(options.queue === undefined ? {} : { queue: options.queue }),
      callback: (error, msg) => {
        if (error !== null) return;
        void this.#handle(topic, msg, handler);
      },
    });
    return () => subscription.unsubscribe();
  }

  async #handle(topic: InternalTopic, msg: Msg, handler: InternalHandler): Promise<void> {
    try {
      const payload = await this.#accept(topic, msg, INTERNAL_TOPICS[topic].senders);
      if (payload === undefined) return;
      const answer = await handler(payload);
      if (msg.reply === undefined || msg.reply === '') return;
      const data = Buffer.from(JSON.stringify(answer ?? null));
      msg.respond(data, { headers: await this.#signed(msg.reply, data) });
    } catch (error) {
      this.#o.logger.warn({ err: error, topic }, 'internal: handling a message failed');
    }
  }

  /** The parsed payload when the message's token holds, else undefined (counted, logged). */
  async #accept(
    topic: InternalTopic,
    msg: Msg,
    roles: readonly string[],
  ): Promise<unknown | undefined> {
    const check = await this.#o.tokens.verify(msg.headers?.get(TOKEN_HEADER), {
      subject: msg.subject,
      payload: msg.data,
      roles,
    });
    if (!check.ok) return this.#refuse(topic, check.reason, msg.subject);
    if (!this.#replays.take(check.claims.jti, check.claims.exp))
      return this.#refuse(topic, 'replay', msg.subject);
    try {
      return JSON.parse(Buffer.from(msg.data).toString('utf8')) as unknown;
    } catch {
      return this.#refuse(topic, 'malformed', msg.subject);
    }
  }

  #refuse(topic: InternalTopic, reason: TokenRefusal, subject: string): undefined {
    this.#refused.inc({ reason, topic });
    this.#o.logger.warn({ topic, subject, reason }, 'internal: refused a message');
    return undefined;
  }

  async #signed(subject: string, data: Uint8Array) {
    const h = headers();
    h.set(TOKEN_HEADER, await this.#o.tokens.sign(subject, data));
    return h;
  }
}
