import type { X509Certificate } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { serverGroups } from '@palisade/crypto';
import { type AttributeQuery, attributeQuery, InvalidAttributeRequest } from '@palisade/device-api';
import { Aedes, type Client, type PublishPacket, type Subscription } from 'aedes';
import type { CredentialCache, EdgeDevice } from '../credentials/index.ts';
import { authenticateCertificate, authenticateDevice } from '../credentials/index.ts';
import { OutboxFullError } from '../outbox.ts';
import { decodeMessage, Refusal, type RefusalReason } from './device-message.ts';
import {
  attributeRequestId,
  deliveryKind,
  type PublishKind,
  publishKind,
  rpcResponseId,
  type SubscriptionKind,
  subscriptionKind,
  TOPIC,
} from './topics.ts';

/**
 * Takes one device message; returns (or resolves) only once it is durable (in the fsync'd
 * outbox), so the listener may then PUBACK. Throws OutboxFullError when the outbox is full.
 */
export type AcceptMessage = (
  device: EdgeDevice,
  kind: PublishKind,
  payload: unknown,
) => void | Promise<void>;

/** What the listener reports (for logs and metrics). */
export interface ListenerEvents {
  accepted?(device: EdgeDevice, kind: PublishKind, qos: number): void;
  refused?(reason: RefusalReason, detail: string, device: EdgeDevice | undefined): void;
  connected?(device: EdgeDevice): void;
  disconnected?(device: EdgeDevice): void;
  /** A connection of the device subscribed (its SUBACK written) to what the node sends on `kind`. */
  subscribed?(device: EdgeDevice, kind: SubscriptionKind): void;
}

/** Where a listener binds (port 0 picks a free one). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** An MQTT-over-TLS listener's address and the certificate it presents (PEM). */
export interface TlsListen extends ListenAddress {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface ListenerOptions {
  /** Plain MQTT; devices' secrets cross the network in clear, so keep it to trusted links. */
  readonly plain?: ListenAddress | undefined;
  /** MQTT over TLS, preferring the hybrid post-quantum group as the platform does. */
  readonly tls?: TlsListen | undefined;
  readonly credentials: CredentialCache;
  readonly accept: AcceptMessage;
  readonly events?: ListenerEvents;
  readonly connectTimeoutMs?: number;
  /** Largest packet a device may send (topic and payload included); a larger one closes the connection. */
  readonly maxPacketBytes?: number;
  /**
   * A device answered the RPC request `requestId` (on `v1/devices/me/rpc/response/{id}`);
   * without it, answers are refused as any other topic.
   */
  readonly rpcAnswer?: (device: EdgeDevice, requestId: string, answer: unknown) => void;
  /**
   * The answer to a device's attribute request (`v1/devices/me/attributes/request/{id}`),
   * sent on `…/attributes/response/{id}` to the connection that asked; without it, requests
   * are refused as any other topic.
   */
  readonly attributeAnswer?: (device: EdgeDevice, query: AttributeQuery) => Record<string, unknown>;
}

interface Session {
  readonly device: EdgeDevice;
  /** The credential it connected with, while the cache still holds it. */
  readonly credential: string;
  /** The client certificate it connected with, while the cache's CAs still trust it. */
  readonly certificate: X509Certificate | undefined;
  readonly subscriptions: Set<SubscriptionKind>;
}

/** The platform's default `mqttMaxPacket`: devices meet the same bound at the edge. */
export const DEFAULT_MAX_PACKET_BYTES = 65_536;

/** The MQTT parser aedes gives each connection (mqtt-packet), as far as the bound needs it. */
interface PacketParser {
  packet: { length: number };
  _parseLength(): boolean;
  once(event: 'error', listener: (error: Error) => void): unknown;
}

/** Where an accepted PUBLISH goes after its PUBACK: a topic no device may subscribe to. */
const ACCEPTED_SINK = '$edge/accepted';

/** MQTT 5 CONNACK, reason 0x84 "Unsupported Protocol Version", with a reason string (as the platform). */
function mqtt5Refusal(): Buffer {
  const reason = Buffer.from('this listener speaks MQTT 3.1.1; MQTT 5 is not supported');
  const properties = Buffer.concat([
    Buffer.from([0x1f, reason.length >> 8, reason.length & 0xff]),
    reason,
  ]);
  const body = Buffer.concat([Buffer.from([0x00, 0x84, properties.length]), properties]);
  return Buffer.concat([Buffer.from([0x20, body.length]), body]);
}

type AuthDone = (error: (Error & { returnCode: number }) | null, success: boolean | null) => void;

/**
 * The node's local MQTT 3.1.1 listener: devices connect to it exactly as to the platform
 * (ThingsBoard `v1/devices/me/telemetry` and `…/attributes`) with the credentials synced down
 * from the platform. The device comes from its credential, never from a topic. A QoS 1
 * message gets its PUBACK only once the outbox holds it on disk; when the outbox is full (or
 * the message cannot be taken) the connection is closed without a PUBACK, since MQTT 3.1.1
 * has no reason code on PUBACK: the client resends after reconnecting, nothing is dropped
 * silently, and the refusal is counted. Devices never receive each other's messages: the
 * node forwards to a client only the payloads it made for that client.
 */
export class EdgeMqttListener {
  /** The plain listener's `mqtt://` URL once started; '' without one. */
  url = '';
  /** The TLS listener's `mqtts://` URL once started; '' without one. */
  tlsUrl = '';
  readonly #options: ListenerOptions;
  readonly #broker: Aedes;
  readonly #sessions = new WeakMap<Client, Session>();
  readonly #byDevice = new Map<string, Set<Client>>();
  readonly #outgoing = new WeakMap<Buffer, Client>();
  readonly #servers: Server[] = [];
  readonly #stopWatching: () => void;
  #closed: Promise<void> | undefined;

  constructor(options: ListenerOptions) {
    this.#options = options;
    this.#stopWatching = options.credentials.onReplace(() => this.#dropRevoked());
    this.#broker = new Aedes({
      ...(options.connectTimeoutMs === undefined
        ? {}
        : { connectTimeout: options.connectTimeoutMs }),
      preConnect: (client, packet, callback) => {
        if (packet.protocolVersion !== 5) return callback(null, true);
        this.#refuse('protocol_unsupported', 'MQTT 5 CONNECT');
        client.conn.end(mqtt5Refusal());
        callback(null, false);
      },
      authenticate: (client, username, password, done) =>
        this.#authenticate(client, username, password, done as AuthDone),
      authorizePublish: (client, packet, callback) => this.#publish(client, packet, callback),
      authorizeSubscribe: (client, sub, callback) => callback(null, this.#subscribe(client, sub)),
      authorizeForward: (client, packet) =>
        this.#outgoing.get(packet.payload as Buffer) === client ? packet : null,
    });
    this.#broker.on('clientReady', (client) => this.#ready(client));
    this.#broker.on('clientDisconnect', (client) => this.#gone(client));
    this.#broker.on('subscribe', (subscriptions, client) => {
      const session = this.#sessions.get(client);
      if (session === undefined) return;
      for (const sub of subscriptions) {
        const kind = subscriptionKind(sub.topic);
        // aedes reports a refused subscription with the SUBACK's failure code as its QoS.
        if (kind !== undefined && (sub.qos as number) !== 128)
          this.#options.events?.subscribed?.(session.device, kind);
      }
    });
    this.#broker.on('unsubscribe', (filters, client) => {
      const session = this.#sessions.get(client);
      for (const filter of filters) {
        const kind = subscriptionKind(filter);
        if (kind !== undefined) session?.subscriptions.delete(kind);
      }
    });
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    this.#bound(socket, this.#broker.handle(socket));
  }

  /**
   * Refuses a packet that announces more than `maxPacketBytes` as soon as its length is read,
   * before mqtt-packet buffers its body (it would collect up to 256 MiB), and counts one that
   * is no MQTT packet.
   */
  #bound(socket: Socket, client: Client): void {
    const max = this.#options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
    const parser = (client as unknown as { _parser: PacketParser })._parser;
    // aedes closes the connection at its parser's first error: one refusal a connection.
    parser.once('error', (error) =>
      this.#refuse('malformed_packet', error.message, this.#sessions.get(client)?.device),
    );
    const parseLength = parser._parseLength.bind(parser);
    parser._parseLength = () => {
      if (!parseLength()) return false;
      if (parser.packet.length <= max) return true;
      this.#refuse(
        'packet_too_large',
        `a packet of ${parser.packet.length} bytes`,
        this.#sessions.get(client)?.device,
      );
      socket.destroy();
      return false;
    };
  }

  /** Listens on the plain and TLS addresses asked for; throws when neither is. */
  async start(): Promise<void> {
    const { plain, tls } = this.#options;
    if (plain === undefined && tls === undefined)
      throw new Error('the listener needs a plain or a TLS address');
    await this.#broker.listen();
    if (plain !== undefined)
      this.url = `mqtt://${await this.#listen(
        createServer((s) => this.#accept(s)),
        plain,
      )}`;
    if (tls !== undefined) {
      const secure = createTlsServer(
        {
          cert: tls.cert,
          key: tls.key,
          ecdhCurve: serverGroups().join(':'),
          minVersion: 'TLSv1.2',
          // Any client certificate passes the handshake: the cache's tenant CAs, which change
          // at every refresh, decide whether it authenticates (as on the platform).
          requestCert: true,
          rejectUnauthorized: false,
        },
        (socket) => this.#accept(socket),
      );
      this.tlsUrl = `mqtts://${await this.#listen(secure, tls)}`;
    }
  }

  /** Binds `server` to `at`; resolves to its `host:port` for a URL, with the bound port. */
  async #listen(server: Server, at: ListenAddress): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#servers.push(server);
    const bound = (server.address() as { port: number }).port;
    return `${at.host.includes(':') ? `[${at.host}]` : at.host}:${bound}`;
  }

  #refuse(reason: RefusalReason, detail: string, device?: EdgeDevice): Refusal {
    this.#options.events?.refused?.(reason, detail, device);
    return new Refusal(reason, detail);
  }

  #authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: AuthDone,
  ): void {
    const clientId = client.id;
    // A presented certificate decides alone: the handshake proved its key is the peer's.
    const presented = (client.conn as Partial<TLSSocket>).getPeerCertificate?.(true)?.raw;
    const granted =
      presented === undefined
        ? authenticateDevice(this.#options.credentials, clientId, username, password)
        : Promise.resolve(authenticateCertificate(this.#options.credentials, presented));
    granted.then(
      (granted) => {
        if (granted === undefined) {
          this.#refuse('bad_credentials', 'unknown device credentials');
          return done(
            Object.assign(new Error('bad user name or password'), { returnCode: 4 }),
            false,
          );
        }
        const { device, credential, certificate } = granted;
        // Namespaced so that one device's client id never takes over another device's session.
        (client as { id: string }).id = `${device.deviceId}/${clientId}`;
        this.#sessions.set(client, {
          device,
          credential,
          certificate,
          subscriptions: new Set(),
        });
        done(null, true);
      },
      () => done(Object.assign(new Error('server unavailable'), { returnCode: 3 }), false),
    );
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
    const { device } = session;
    const requestId = rpcResponseId(packet.topic);
    if (requestId !== undefined && this.#options.rpcAnswer !== undefined) {
      let answer: unknown;
      try {
        answer = JSON.parse(Buffer.from(packet.payload).toString('utf8'));
      } catch {
        callback(this.#refuse('invalid_payload', 'an RPC answer must be JSON', device));
        return;
      }
      this.#options.rpcAnswer(device, requestId, answer);
      packet.retain = false;
      packet.topic = ACCEPTED_SINK;
      callback(null);
      return;
    }
    const attributeRequest = attributeRequestId(packet.topic);
    if (attributeRequest !== undefined && this.#options.attributeAnswer !== undefined) {
      this.#answerAttributes(client as Client, session, attributeRequest, packet).then(
        () => {
          packet.retain = false;
          packet.topic = ACCEPTED_SINK;
          callback(null);
        },
        (error: unknown) =>
          callback(
            error instanceof Refusal
              ? this.#refuse(error.reason, error.message, device)
              : this.#refuse('accept_failed', (error as Error).message, device),
          ),
      );
      return;
    }
    this.#take(device, packet).then(
      (kind) => {
        this.#options.events?.accepted?.(device, kind, packet.qos);
        packet.retain = false;
        packet.topic = ACCEPTED_SINK;
        callback(null);
      },
      (error: unknown) => {
        const refusal =
          error instanceof Refusal
            ? error
            : new Refusal(
                error instanceof OutboxFullError ? 'outbox_full' : 'accept_failed',
                (error as Error).message,
              );
        callback(this.#refuse(refusal.reason, refusal.message, device));
      },
    );
  }

  /** Answers an attribute request on the asking connection, if it subscribed to the answers (as the platform). */
  async #answerAttributes(
    client: Client,
    session: Session,
    requestId: string,
    packet: PublishPacket,
  ): Promise<void> {
    let query: AttributeQuery;
    try {
      query = attributeQuery(JSON.parse(Buffer.from(packet.payload).toString('utf8')));
    } catch (error) {
      throw new Refusal(
        'invalid_payload',
        error instanceof InvalidAttributeRequest
          ? error.message
          : 'an attribute request must be JSON',
      );
    }
    const answer = this.#options.attributeAnswer?.(session.device, query) ?? {};
    if (session.subscriptions.has('attribute-responses'))
      await this.#sendTo(client, `${TOPIC.attributeResponse}${requestId}`, answer);
  }

  /** Checks the topic and payload, then hands the message over; resolves once it is durable. */
  async #take(device: EdgeDevice, packet: PublishPacket): Promise<PublishKind> {
    const kind = publishKind(packet.topic);
    if (kind === undefined)
      throw new Refusal('topic_not_allowed', `may not publish to ${packet.topic}`);
    const payload =
      typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    await this.#options.accept(device, kind, decodeMessage(kind, payload));
    return kind;
  }

  #subscribe(client: Client, sub: Subscription): Subscription | null {
    const session = this.#sessions.get(client);
    const kind = subscriptionKind(sub.topic);
    if (session === undefined || kind === undefined) {
      this.#refuse(
        'subscription_not_allowed',
        `may not subscribe to ${sub.topic}`,
        session?.device,
      );
      return null;
    }
    session.subscriptions.add(kind);
    return { ...sub, qos: Math.min(sub.qos, 1) as 0 | 1 };
  }

  #ready(client: Client): void {
    const session = this.#sessions.get(client);
    if (session === undefined) return;
    if (!this.#current(session)) {
      client.close();
      return;
    }
    const clients = this.#byDevice.get(session.device.deviceId) ?? new Set<Client>();
    this.#byDevice.set(session.device.deviceId, clients.add(client));
    this.#options.events?.connected?.(session.device);
  }

  #gone(client: Client): void {
    const session = this.#sessions.get(client);
    if (session === undefined) return;
    const clients = this.#byDevice.get(session.device.deviceId);
    clients?.delete(client);
    if (clients?.size === 0) this.#byDevice.delete(session.device.deviceId);
    this.#options.events?.disconnected?.(session.device);
  }

  /**
   * Closes the connections whose credential a refresh removed (deleted or changed on the
   * platform, or the device moved to another node), or whose certificate no CA it brought
   * trusts any longer (a CA deleted, or one of them expired): a device connected before then
   * does not keep publishing on it. Unacknowledged messages are resent after reconnecting, and refused.
   */
  #dropRevoked(): void {
    const revoked = [...this.#byDevice.values()].flatMap((clients) =>
      [...clients].filter((client) => {
        const session = this.#sessions.get(client);
        return session !== undefined && !this.#current(session);
      }),
    );
    for (const client of revoked) client.close();
  }

  /** Whether the credential a session connected with still stands (and its certificate is still trusted). */
  #current(session: Session): boolean {
    const { credentials } = this.#options;
    return (
      credentials.holds(session.credential) &&
      (session.certificate === undefined || credentials.trusts(session.certificate))
    );
  }

  /** True while the device has at least one connection. */
  connected(deviceId: string): boolean {
    return this.#byDevice.has(deviceId);
  }

  /**
   * Sends `body` (JSON, QoS 1) on `topic` to each connection of the device that subscribed to
   * it; resolves with how many got it written. A topic the node never sends is refused.
   */
  async send(deviceId: string, topic: string, body: unknown): Promise<number> {
    const kind = deliveryKind(topic);
    if (kind === undefined) throw new Error(`the edge never sends on ${topic}`);
    let sent = 0;
    for (const client of this.#byDevice.get(deviceId) ?? []) {
      if (this.#sessions.get(client)?.subscriptions.has(kind) !== true) continue;
      await this.#sendTo(client, topic, body);
      sent++;
    }
    return sent;
  }

  /** Writes `body` (JSON, QoS 1 at most as subscribed) on `topic` to one connection. */
  async #sendTo(client: Client, topic: string, body: unknown): Promise<void> {
    const payload = Buffer.from(JSON.stringify(body));
    this.#outgoing.set(payload, client);
    const packet = { cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false } as const;
    await new Promise<void>((resolve, reject) =>
      client.publish(packet as PublishPacket, (error) =>
        error === undefined || error === null ? resolve() : reject(error),
      ),
    );
  }

  /** Stops accepting and disconnects every device. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#stopWatching();
      const stopped = Promise.all(
        this.#servers.map(
          (server) => new Promise<void>((resolve) => server.close(() => resolve())),
        ),
      );
      await new Promise<void>((resolve) => this.#broker.close(() => resolve()));
      await stopped;
    })();
    return this.#closed;
  }
}
