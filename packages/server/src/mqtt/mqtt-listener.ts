/**
 * The MQTT listener: aedes speaking the ThingsBoard device API, with the broker's routing
 * switched off. aedes is used as a protocol engine only:
 *
 * - a device's PUBLISH is authorized against the allow-list in topics.ts and handled in
 *   `authorizePublish`, which writes the PUBACK (puback.ts) and calls back only once
 *   ingestion resolved (committed and ledgered), so a PUBACK means durable. The packet is
 *   then re-aimed at a topic nobody can subscribe to, so aedes routes it nowhere;
 * - the only packets aedes may forward to a client are the ones this listener made for that
 *   very client (checked by payload identity in `authorizeForward`): RPC requests (a
 *   gateway's children's included) and attribute responses. Two devices can never exchange
 *   a message through the broker;
 * - aedes' client ids are namespaced by tenant and device, so the same client id used by
 *   another device or tenant never takes over a session.
 *
 * aedes 1.2 speaks MQTT 3.1 and 3.1.1 only. An MQTT 5 CONNECT gets an MQTT 5 CONNACK with
 * reason 0x84 (unsupported protocol version) and a reason string, then the socket closes.
 */
import type { Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { Aedes, type Client, type PublishPacket, type Subscription } from 'aedes';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DeviceAuthenticator, DeviceIdentity, TelemetryIngest } from '../devices/index.ts';
import { andThen } from '../maybe-promise/index.ts';
import { handleDevicePublish, type PublishDeps } from './device-publish.ts';
import { DeviceSession, deviceKey } from './device-session.ts';
import { FrameGuard } from './frame-guard.ts';
import { gatewayRequest } from './gateway-rpc.ts';
import { IngestGate } from './ingest-gate.ts';
import { MqttMetrics } from './mqtt-metrics.ts';
import type { AttributeReader, RpcChannel } from './mqtt-ports.ts';
import { MqttRefusal } from './mqtt-refusal.ts';
import { acknowledge } from './puback.ts';
import {
  deliveryKind,
  type PublishRoute,
  routePublish,
  subscriptionKind,
  TOPIC,
} from './topics.ts';
import { createMqttWsServer, type WsTlsOptions } from './ws-listener.ts';

/** Where accepted device messages are re-aimed: a `$` topic no device may subscribe to. */
const ACCEPTED_SINK = '$palisade/accepted';

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
}

/**
 * An MQTT over TLS listener. It asks every client for a certificate and accepts any: a
 * device certificate is then checked by the authenticator against its tenant's CAs, which
 * change at run time; a client without one authenticates with a token or password.
 */
export interface MqttTlsOptions {
  readonly host: string;
  readonly port: number;
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** Key-exchange groups in order of preference (OpenSSL `ecdhCurve`). */
  readonly ecdhCurve?: string | undefined;
}

/** An MQTT over WebSocket listener; wss:// with `tls`. */
export interface MqttWsOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: WsTlsOptions | undefined;
}

export interface MqttListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: MqttTlsOptions | undefined;
  readonly ws?: MqttWsOptions | undefined;
  readonly authenticator: DeviceAuthenticator;
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
  /** Sends `v1/devices/me/attributes` to every connected session of the device subscribed there. */
  pushAttributes(device: DeviceIdentity, attributes: Record<string, unknown>): Promise<number>;
  /** Stops accepting, disconnects every client. Idempotent. */
  close(): Promise<void>;
}

/** MQTT 5 CONNACK, reason 0x84 "Unsupported Protocol Version", with a reason string. */
function mqtt5Refusal(): Buffer {
  const reason = Buffer.from('this listener speaks MQTT 3.1.1; MQTT 5 is not supported');
  const properties = Buffer.concat([
    Buffer.from([0x1f, reason.length >> 8, reason.length & 0xff]),
    reason,
  ]);
  const body = Buffer.concat([Buffer.from([0x00, 0x84, properties.length]), properties]);
  return Buffer.concat([Buffer.from([0x20, body.length]), body]);
}

/** The part of aedes' persistence that holds received QoS 2 messages until their PUBREL. */
interface IncomingPackets {
  incomingGetPacket(client: Client, packet: PublishPacket): Promise<unknown>;
}

/** Re-aims an accepted PUBLISH where aedes routes it nowhere and retains nothing. */
function sinkPacket(packet: PublishPacket): void {
  packet.retain = false;
  packet.topic = ACCEPTED_SINK;
}

/** aedes' own `publish` as its handlers call it: with the publishing client, or none. */
type BrokerPublish = (
  packet: PublishPacket,
  client: Client | null,
  done?: (error?: Error) => void,
) => void;

type AuthDone = (error: (Error & { returnCode: number }) | null, success: boolean | null) => void;

function authError(returnCode: number, message: string): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode });
}

class Listener implements MqttListener {
  url = '';
  tlsUrl: string | undefined;
  wsUrl: string | undefined;
  readonly #options: MqttListenerOptions;
  readonly #broker: Aedes;
  readonly #metrics: MqttMetrics;
  readonly #gate: IngestGate;
  readonly #sessions = new WeakMap<Client, DeviceSession>();
  readonly #byDevice = new Map<string, Set<DeviceSession>>();
  /** Payloads this listener made, and the one client each may be forwarded to. */
  readonly #outgoing = new WeakMap<Buffer, Client>();
  readonly #servers: Array<Server | HttpServer> = [];
  /** The TCP or TLS socket under each WebSocket stream: a client certificate is read there. */
  readonly #transport = new WeakMap<Duplex, Socket>();
  readonly #deps: PublishDeps;
  #closed: Promise<void> | undefined;

  constructor(options: MqttListenerOptions) {
    this.#options = options;
    this.#metrics = new MqttMetrics(options.metrics);
    this.#gate = new IngestGate(options.limits.clientInflightMax, options.limits.inflightMax);
    this.#deps = {
      authenticator: options.authenticator,
      ingest: options.ingest,
      attributes: options.attributes,
      rpc: options.rpc,
      send: (session, topic, body) => this.#send(session, topic, body),
    };
    this.#broker = new Aedes({
      connectTimeout: options.limits.connectTimeoutMs,
      preConnect: (client, packet, callback) => {
        if (packet.protocolVersion !== 5) return callback(null, true);
        this.#metrics.refusals.inc({ reason: 'protocol_unsupported', code: 'none' });
        client.conn.end(mqtt5Refusal());
        callback(null, false);
      },
      authenticate: (client, username, password, done) =>
        this.#authenticate(client, username, password, done as AuthDone),
      authorizePublish: (client, packet, callback) => this.#publish(client, packet, callback),
      authorizeSubscribe: (client, sub, callback) => callback(null, this.#subscribe(client, sub)),
      authorizeForward: (client, packet) =>
        this.#outgoing.get(packet.payload as Buffer) === client &&
        this.#subscribed(client, packet.topic)
          ? packet
          : null,
    });
    // An accepted message goes nowhere (nobody may subscribe to the sink), so aedes is spared
    // routing it: the retained store, the offline queues and the emitter would find no one.
    const broker = this.#broker as unknown as { publish: BrokerPublish };
    const route = broker.publish.bind(this.#broker);
    broker.publish = (packet, client, done) =>
      packet.topic === ACCEPTED_SINK ? done?.() : route(packet, client, done);
    this.#broker.on('clientReady', (client) => this.#ready(client));
    this.#broker.on('clientDisconnect', (client) => this.#gone(client));
    this.#broker.on('unsubscribe', (filters, client) => this.#unsubscribe(client, filters));
    this.#broker.on('clientError', (client, error) => {
      if (!(error instanceof MqttRefusal))
        options.logger.debug({ err: error.message, client: client.id }, 'mqtt: client error');
    });
  }

  async start(): Promise<void> {
    await this.#broker.listen();
    const { host, port, tls } = this.#options;
    const tcp = createServer((socket) => this.#acceptSocket(socket));
    this.url = `mqtt://${hostForUrl(host)}:${await listen(tcp, host, port)}`;
    this.#servers.push(tcp);
    if (tls !== undefined) {
      const secure = createTlsServer(
        {
          cert: tls.cert,
          key: tls.key,
          requestCert: true,
          rejectUnauthorized: false,
          ...(tls.ecdhCurve === undefined ? {} : { ecdhCurve: tls.ecdhCurve }),
        },
        (socket) => this.#acceptSocket(socket),
      );
      this.tlsUrl = `mqtts://${hostForUrl(tls.host)}:${await listen(secure, tls.host, tls.port)}`;
      this.#servers.push(secure);
    }
    if (this.#options.ws !== undefined) await this.#startWs(this.#options.ws);
  }

  async #startWs(ws: MqttWsOptions): Promise<void> {
    const server = createMqttWsServer({
      tls: ws.tls,
      maxPayload: this.#options.limits.maxPacket,
      accept: (stream, socket) => {
        this.#transport.set(stream, socket);
        socket.setNoDelay(true);
        this.#accept(stream);
      },
      refused: () => this.#metrics.refusals.inc({ reason: 'websocket_subprotocol', code: 'none' }),
    });
    const scheme = ws.tls === undefined ? 'ws' : 'wss';
    this.wsUrl = `${scheme}://${hostForUrl(ws.host)}:${await listen(server, ws.host, ws.port)}`;
    this.#servers.push(server);
  }

  #acceptSocket(socket: Socket): void {
    socket.setNoDelay(true);
    this.#accept(socket);
  }

  #accept(socket: Duplex): void {
    const client = this.#broker.handle(socket);
    // aedes feeds each socket read to mqtt-packet's parser; the guard sees it first.
    const parser = (client as unknown as { _parser: { parse(chunk: Buffer): unknown } })._parser;
    const parse = parser.parse.bind(parser);
    const guard = new FrameGuard(this.#options.limits.maxPacket);
    parser.parse = (chunk) => {
      if (guard.accept(chunk)) return parse(chunk);
      this.#metrics.refusals.inc({ reason: 'packet_too_large', code: 'none' });
      socket.destroy();
      return 0;
    };
  }

  #authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: AuthDone,
  ): void {
    const clientId = client.id;
    this.#identify(client, clientId, username, password).then(
      (identity) => {
        if (identity === undefined) {
          this.#metrics.refusals.inc({ reason: 'bad_credentials', code: 'none' });
          return done(authError(4, 'bad user name or password'), false);
        }
        // Namespaced so that one device's client id never takes over another's session.
        (client as { id: string }).id =
          `${identity.context.tenantId}/${identity.deviceId}/${clientId}`;
        this.#sessions.set(client, new DeviceSession(identity, client, clientId));
        done(null, true);
      },
      (error: unknown) => {
        this.#metrics.refusals.inc({ reason: 'auth_unavailable', code: 'none' });
        this.#options.logger.error({ err: error }, 'mqtt: device authentication failed');
        done(authError(3, 'server unavailable'), false);
      },
    );
  }

  async #identify(
    client: Client,
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<DeviceIdentity | undefined> {
    const auth = this.#options.authenticator;
    const socket = (this.#transport.get(client.conn) ?? client.conn) as Partial<TLSSocket>;
    // A presented certificate decides alone: the handshake proved its key is the peer's.
    const presented = socket.getPeerCertificate?.(true)?.raw;
    if (presented !== undefined) return auth.byCertificate(presented);
    if (username === undefined || username === '') return undefined;
    if (password === undefined) return auth.byAccessToken(username);
    return auth.byMqttCredentials(clientId, username, password.toString('utf8'));
  }

  #publish(
    client: Client | null,
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
  ): void {
    const session = client === null ? undefined : this.#sessions.get(client);
    if (session === undefined) {
      callback(new Error('publish from an unknown client'));
      return;
    }
    const route = routePublish(packet.topic, session.identity.isGateway);
    if (route === undefined) {
      callback(this.#refuse(session, new MqttRefusal('topic_not_allowed', 'topic not allowed')));
      return;
    }
    if (packet.qos !== 2) {
      this.#ingest(session, route, packet, callback);
      return;
    }
    // A QoS 2 message aedes still holds (PUBREC sent, no PUBREL yet) was ingested when it
    // first came; a DUP copy, on this connection or a resumed session, gets PUBREC again only.
    const { persistence } = this.#broker as unknown as { persistence: IncomingPackets };
    persistence.incomingGetPacket(session.client, packet).then(
      () => {
        sinkPacket(packet);
        callback(null);
      },
      () => this.#ingest(session, route, packet, callback),
    );
  }

  /** Hands a PUBLISH to ingestion; calls back (and so acknowledges) once it is durable. */
  #ingest(
    session: DeviceSession,
    route: PublishRoute,
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
  ): void {
    const payload =
      typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    this.#metrics.inflight.inc();
    this.#gate
      .run(session, () =>
        andThen(this.#options.authenticator.current(session.identity), (current) => {
          if (!current)
            throw new MqttRefusal(
              'bad_credentials',
              "the connection's credential no longer authenticates its device",
            );
          return handleDevicePublish(this.#deps, session, route, payload);
        }),
      )
      .then(
        (dropped) => {
          if (dropped === undefined)
            this.#metrics.messages.inc({ kind: route.kind, qos: String(packet.qos) });
          else this.#drop(session, dropped);
          sinkPacket(packet);
          if (packet.qos !== 1) {
            callback(null);
            return;
          }
          // Acknowledged here; aedes, seeing QoS 0, writes no second PUBACK.
          packet.qos = 0;
          acknowledge(session.client, packet.messageId!, callback);
        },
        (error: unknown) => callback(this.#refuse(session, MqttRefusal.fromIngest(error))),
      )
      .finally(() => {
        this.#metrics.inflight.dec();
        this.#metrics.waits.inc(this.#gate.waits);
        this.#gate.waits = 0;
      });
  }

  /** Counts and logs a refusal; aedes closes the connection on the returned error. */
  #refuse(session: DeviceSession, refusal: MqttRefusal): MqttRefusal {
    const fields = this.#counted(session, refusal);
    if (refusal.reason === 'ingest_failed') this.#options.logger.error(fields, 'mqtt: refused');
    else this.#options.logger.info(fields, 'mqtt: refused');
    return refusal;
  }

  /**
   * Counts and logs a message acknowledged and dropped, the connection kept. At debug level:
   * a device may send many, and the count is in the metrics.
   */
  #drop(session: DeviceSession, refusal: MqttRefusal): void {
    this.#options.logger.debug(this.#counted(session, refusal), 'mqtt: dropped');
  }

  #counted(session: DeviceSession, refusal: MqttRefusal) {
    this.#metrics.refusals.inc({ reason: refusal.reason, code: refusal.code });
    return {
      tenant: session.identity.context.tenantId,
      device: session.identity.deviceId,
      reason: refusal.reason,
      code: refusal.code,
      detail: refusal.message,
    };
  }

  #subscribe(client: Client, sub: Subscription): Subscription | null {
    const session = this.#sessions.get(client);
    const kind =
      session === undefined ? undefined : subscriptionKind(sub.topic, session.identity.isGateway);
    if (session === undefined || kind === undefined) {
      this.#metrics.refusals.inc({ reason: 'subscription_not_allowed', code: 'none' });
      return null;
    }
    session.subscriptions.add(kind);
    const rpc = this.#options.rpc;
    if (kind === 'rpc-requests' && rpc !== undefined && session.detachRpc === undefined) {
      session.detachRpc = rpc.attach(session.identity, async (request) => {
        // Not sent: the request stays queued for a connection that may have it.
        if (!(await this.#send(session, `${TOPIC.rpcRequest}${request.requestId}`, request.body)))
          throw new Error('the connection may no longer receive requests');
      });
    }
    if (kind === 'gateway-rpc' && rpc !== undefined)
      session.reachChildren((name, child) =>
        rpc.attach(child, async (request) => {
          // Not sent (the child disconnected meanwhile, or the gateway stopped listening):
          // the request stays queued for the child's next connection.
          const sent =
            session.reaches(name, child) &&
            (await this.#send(session, TOPIC.gatewayRpc, gatewayRequest(name, request)));
          if (!sent) throw new Error('the gateway may no longer receive requests for this child');
        }),
      );
    return { ...sub, qos: Math.min(sub.qos, 1) as 0 | 1 };
  }

  #unsubscribe(client: Client, filters: string[]): void {
    const session = this.#sessions.get(client);
    if (session === undefined) return;
    for (const filter of filters) {
      const kind = subscriptionKind(filter, session.identity.isGateway);
      if (kind !== undefined) session.subscriptions.delete(kind);
      if (kind === 'rpc-requests') {
        session.detachRpc?.();
        session.detachRpc = undefined;
      }
      if (kind === 'gateway-rpc') session.unreachChildren();
    }
  }

  #subscribed(client: Client, topic: string): boolean {
    const kind = deliveryKind(topic);
    return kind !== undefined && this.#sessions.get(client)?.subscriptions.has(kind) === true;
  }

  #ready(client: Client): void {
    const session = this.#sessions.get(client);
    if (session === undefined) return;
    const sessions = this.#byDevice.get(session.deviceKey) ?? new Set<DeviceSession>();
    this.#byDevice.set(session.deviceKey, sessions);
    sessions.add(session);
    this.#metrics.connections.inc();
  }

  #gone(client: Client): void {
    const session = this.#sessions.get(client);
    if (session === undefined) return;
    session.detachRpc?.();
    session.detachRpc = undefined;
    session.unreachChildren();
    const sessions = this.#byDevice.get(session.deviceKey);
    if (sessions?.delete(session) === true) this.#metrics.connections.dec();
    if (sessions?.size === 0) this.#byDevice.delete(session.deviceKey);
  }

  /**
   * Sends a server message to one session if it subscribed to the topic and its credential
   * still authenticates it (else the connection is closed); QoS 1.
   */
  async #send(session: DeviceSession, topic: string, body: unknown): Promise<boolean> {
    if (!this.#subscribed(session.client, topic)) return false;
    if (!(await this.#options.authenticator.current(session.identity))) {
      this.#metrics.refusals.inc({ reason: 'bad_credentials', code: 'none' });
      session.client.close();
      return false;
    }
    const payload = Buffer.from(JSON.stringify(body));
    this.#outgoing.set(payload, session.client);
    const packet = { cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false } as const;
    await new Promise<void>((resolve, reject) =>
      session.client.publish(packet as PublishPacket, (error) =>
        error === undefined || error === null ? resolve() : reject(error),
      ),
    );
    return true;
  }

  async pushAttributes(
    device: DeviceIdentity,
    attributes: Record<string, unknown>,
  ): Promise<number> {
    let sent = 0;
    for (const session of this.#byDevice.get(deviceKey(device)) ?? []) {
      if (await this.#send(session, TOPIC.attributes, attributes)) sent++;
    }
    return sent;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      const stopped = this.#servers.map(
        (server) => new Promise<void>((resolve) => server.close(() => resolve())),
      );
      await new Promise<void>((resolve) => this.#broker.close(() => resolve()));
      await Promise.all(stopped);
    })();
    return this.#closed;
  }
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server: Server | HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
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
