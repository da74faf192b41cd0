/**
 * The MQTT listener: aedes speaking the ThingsBoard device API, with the broker's routing
 * switched off. aedes is used as a protocol engine only:
 *
 * - a device's PUBLISH is authorized against the allow-list in topics.ts, then by the tenant
 *   (its roles and policies, DeviceActs), and handled in
 *   `authorizePublish` (publish-authorizer.ts), which writes the PUBACK (puback.ts) and calls
 *   back only once ingestion resolved (committed and ledgered), so a PUBACK means durable.
 *   The packet is then re-aimed at a topic nobody can subscribe to, so aedes routes it nowhere;
 * - the only packets aedes may forward to a client are the ones this listener made for that
 *   very client (checked by payload identity in `authorizeForward`, session-sender.ts): RPC
 *   requests, attribute responses and shared attribute updates (a gateway's children's
 *   included). Two devices can never exchange a message through the broker. Their packet
 *   identifiers are the session's own (outgoing-acks.ts), so a PUBACK says which one the
 *   device took: an RPC request is delivered then;
 * - aedes' client ids are namespaced by tenant and device (connect-auth.ts), so the same
 *   client id used by another device or tenant never takes over a session.
 */
import { Aedes, type Client, type PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type {
  DeviceAuthenticator,
  SharedAttributeChange,
  TelemetryIngest,
} from '../devices/index.ts';
import { type AuthDone, ConnectAuth } from './connect-auth.ts';
import type { DeviceRef } from './device-session.ts';
import { IngestGate } from './ingest-gate.ts';
import { MqttMetrics } from './mqtt-metrics.ts';
import type { AttributeReader, DeviceActs, RpcChannel } from './mqtt-ports.ts';
import { MqttRefusal } from './mqtt-refusal.ts';
import { MqttServers, type MqttTlsOptions, type MqttWsOptions } from './mqtt-servers.ts';
import { onPuback } from './outgoing-acks.ts';
import { ACCEPTED_SINK, PublishAuthorizer } from './publish-authorizer.ts';
import { SessionSender } from './session-sender.ts';
import { SessionTable } from './session-table.ts';
import { SubscribeAuthorizer } from './subscribe-authorizer.ts';

/** The listener's bounds, each a named setting. */
export interface MqttLimits {
  /** Largest MQTT packet a client may send, in bytes; larger ones close the connection. */
  readonly maxPacket: number;
  /** Messages of one connection being ingested at once; more wait (socket not read). */
  readonly clientInflightMax: number;
  /** Messages being ingested at once across the listener; more wait. */
  readonly inflightMax: number;
  /** How long a new connection may take to send CONNECT. */
  readonly connectTimeoutMs: number;
  /** How long an RPC request written to a connection waits for the device's PUBACK. */
  readonly rpcAckWaitMs: number;
}

export interface MqttListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: MqttTlsOptions | undefined;
  readonly ws?: MqttWsOptions | undefined;
  readonly authenticator: DeviceAuthenticator;
  /** Whether the tenant lets a device act (roles, policies): asked per PUBLISH and SUBSCRIBE. */
  readonly acts: DeviceActs;
  readonly ingest: TelemetryIngest;
  readonly attributes?: AttributeReader | undefined;
  readonly rpc?: RpcChannel | undefined;
  readonly limits: MqttLimits;
  /** Registry the listener's metrics join (the server's `/metrics`). */
  readonly metrics?: Registry | undefined;
  readonly logger: Logger;
}

/** A running MQTT listener. */
export interface MqttListener {
  /** `mqtt://host:port` of the TCP listener (the bound port when 0 was asked). */
  readonly url: string;
  /** `mqtts://host:port` of the TLS listener, when configured. */
  readonly tlsUrl: string | undefined;
  /** `ws://host:port` (or `wss://`) of the WebSocket listener, when configured. */
  readonly wsUrl: string | undefined;
  /**
   * Sends changed shared attributes on `v1/devices/me/attributes` to every connected session
   * of the device subscribed there, and on `v1/gateway/attributes` (`{"device", "data"}`) to
   * every gateway session that connected it as a child and subscribed there. Resolves with
   * the number of messages written.
   */
  pushAttributes(device: DeviceRef, attributes: Record<string, unknown>): Promise<number>;
  /**
   * A committed change of a device's shared attributes, pushed as ThingsBoard does: the new
   * values of the changed keys, then `{"deleted": [names]}` for the keys removed.
   */
  pushSharedAttributes(change: SharedAttributeChange): Promise<number>;
  /** Whether a connection here hears of the device: its own, or a gateway's that connected it. */
  reaches(device: DeviceRef): boolean;
  /**
   * The tenant is deleted: closes every connection of its devices here and empties what the
   * broker kept of their sessions (subscriptions, unacknowledged messages), also of those
   * that asked to be kept and ended before. Resolves with the connections closed.
   */
  closeTenant(tenantId: string): Promise<number>;
  /** Stops accepting, disconnects every client. Idempotent. */
  close(): Promise<void>;
}

/** The part of aedes' in-memory session store a deleted tenant's sessions are emptied with. */
interface SessionStore {
  cleanSubscriptions(client: { id: string }): Promise<void>;
  cleanIncoming(client: { id: string }): Promise<void>;
  outgoingStream(client: { id: string }): AsyncIterable<{ messageId?: number }>;
  outgoingClearMessageId(client: { id: string }, packet: { messageId?: number }): Promise<unknown>;
}

/** aedes' own `publish` as its handlers call it: with the publishing client, or none. */
type BrokerPublish = (
  packet: PublishPacket,
  client: Client | null,
  done?: (error?: Error) => void,
) => void;

class Listener implements MqttListener {
  url = '';
  tlsUrl: string | undefined;
  wsUrl: string | undefined;
  readonly #options: MqttListenerOptions;
  readonly #broker: Aedes;
  readonly #servers: MqttServers;
  readonly #sender: SessionSender;
  readonly #sessions: SessionTable;
  #closed: Promise<void> | undefined;

  constructor(options: MqttListenerOptions) {
    this.#options = options;
    const metrics = new MqttMetrics(options.metrics);
    const sessions = new SessionTable(metrics);
    this.#sessions = sessions;
    const sender = new SessionSender({
      sessions,
      authenticator: options.authenticator,
      metrics,
      rpcAckWaitMs: options.limits.rpcAckWaitMs,
    });
    this.#sender = sender;
    const connect = new ConnectAuth({
      authenticator: options.authenticator,
      sessions,
      metrics,
      logger: options.logger,
    });
    const subscribe = new SubscribeAuthorizer({
      sessions,
      metrics,
      rpc: options.rpc,
      acts: options.acts,
      authenticator: options.authenticator,
      request: (session, topic, body) => sender.request(session, topic, body),
      rpcAckWaitMs: options.limits.rpcAckWaitMs,
    });
    this.#broker = new Aedes({
      connectTimeout: options.limits.connectTimeoutMs,
      preConnect: (client, packet, callback) => connect.preConnect(client, packet, callback),
      authenticate: (client, username, password, done) =>
        connect.authenticate(client, username, password, done as AuthDone),
      authorizePublish: (client, packet, callback) => publish.authorize(client, packet, callback),
      authorizeSubscribe: (client, sub, callback) => {
        const granted = subscribe.subscribe(client, sub);
        if (!(granted instanceof Promise)) return callback(null, granted);
        granted.then(
          (answer) => callback(null, answer),
          (error: Error) => callback(error, null),
        );
      },
      authorizeForward: (client, packet) => sender.forwardable(client, packet),
    });
    // Made once the broker is, whose QoS 2 state it reads; aedes calls authorizePublish only
    // for a connected client's PUBLISH, so never before this line.
    const publish = new PublishAuthorizer({
      broker: this.#broker,
      sessions,
      metrics,
      gate: new IngestGate(options.limits.clientInflightMax, options.limits.inflightMax),
      deps: {
        authenticator: options.authenticator,
        acts: options.acts,
        ingest: options.ingest,
        attributes: options.attributes,
        rpc: options.rpc,
        send: (session, topic, body) => sender.send(session, topic, body),
      },
      logger: options.logger,
    });
    this.#servers = new MqttServers({
      broker: this.#broker,
      metrics,
      maxPacket: options.limits.maxPacket,
      underWebSocket: (stream, socket) => connect.underWebSocket(stream, socket),
    });
    // An accepted message goes nowhere (nobody may subscribe to the sink), so aedes is spared
    // routing it: the retained store, the offline queues and the emitter would find no one.
    const broker = this.#broker as unknown as { publish: BrokerPublish };
    const route = broker.publish.bind(this.#broker);
    broker.publish = (packet, client, done) =>
      packet.topic === ACCEPTED_SINK ? done?.() : route(packet, client, done);
    this.#broker.on('clientReady', (client) => sessions.ready(client));
    this.#broker.on('clientDisconnect', (client) => sessions.gone(client));
    this.#broker.on('unsubscribe', (filters, client) => subscribe.unsubscribe(client, filters));
    this.#broker.on('clientError', (client, error) => {
      if (!(error instanceof MqttRefusal))
        options.logger.debug({ err: error.message, client: client.id }, 'mqtt: client error');
    });
  }

  async start(): Promise<void> {
    await this.#broker.listen();
    onPuback(this.#broker, (client, messageId) =>
      this.#sessions.get(client)?.acks.acknowledge(messageId),
    );
    const { host, port, tls, ws } = this.#options;
    this.url = await this.#servers.listenTcp(host, port);
    if (tls !== undefined) this.tlsUrl = await this.#servers.listenTls(tls);
    if (ws !== undefined) this.wsUrl = await this.#servers.listenWs(ws);
  }

  pushAttributes(device: DeviceRef, attributes: Record<string, unknown>): Promise<number> {
    return this.#sender.pushAttributes(device, attributes);
  }

  reaches(device: DeviceRef): boolean {
    return this.#sessions.reaches(device);
  }

  async pushSharedAttributes(change: SharedAttributeChange): Promise<number> {
    const device = { context: { tenantId: change.tenantId }, deviceId: change.deviceId };
    let sent = 0;
    if (Object.keys(change.changed).length > 0)
      sent += await this.#sender.pushAttributes(device, { ...change.changed });
    if (change.deleted.length > 0)
      sent += await this.#sender.pushAttributes(device, { deleted: [...change.deleted] });
    return sent;
  }

  async closeTenant(tenantId: string): Promise<number> {
    const sessions = this.#sessions.ofTenant(tenantId);
    await Promise.all(
      sessions.map((session) => new Promise<void>((resolve) => session.client.close(resolve))),
    );
    const store = (this.#broker as unknown as { persistence: SessionStore }).persistence;
    for (const id of this.#sessions.keptOf(tenantId)) {
      await store.cleanSubscriptions({ id });
      await store.cleanIncoming({ id });
      for await (const packet of store.outgoingStream({ id }))
        await store.outgoingClearMessageId({ id }, packet);
    }
    this.#sessions.forgetTenant(tenantId);
    return sessions.length;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      const stopped = this.#servers.close();
      await new Promise<void>((resolve) => this.#broker.close(() => resolve()));
      await stopped;
    })();
    return this.#closed;
  }
}

/** Starts the MQTT listener(s); rejects (with EADDRINUSE and the like) when one cannot bind. */
export async function startMqttListener(options: MqttListenerOptions): Promise<MqttListener> {
  const listener = new Listener(options);
  try {
    await listener.start();
  } catch (error) {
    await listener.close();
    throw error;
  }
  return listener;
}
