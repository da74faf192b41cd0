/**
 * CONNECT: who the device is. aedes 1.2 speaks MQTT 3.1 and 3.1.1 only. An MQTT 5 CONNECT
 * gets an MQTT 5 CONNACK with reason 0x84 (unsupported protocol version) and a reason string,
 * then the socket closes.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Client, ConnectPacket } from 'aedes';
import type { Logger } from 'pino';
import type { DeviceAuthenticator, DeviceIdentity } from '../devices/index.ts';
import type { MqttMetrics } from './mqtt-metrics.ts';
import type { SessionTable } from './session-table.ts';

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

export type AuthDone = (
  error: (Error & { returnCode: number }) | null,
  success: boolean | null,
) => void;

function authError(returnCode: number, message: string): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode });
}

/** What authenticating a CONNECT uses. */
export interface ConnectAuthOptions {
  readonly authenticator: DeviceAuthenticator;
  readonly sessions: SessionTable;
  readonly metrics: MqttMetrics;
  readonly logger: Logger;
}

/** aedes' `preConnect` and `authenticate`: refuses MQTT 5, then authenticates the device. */
export class ConnectAuth {
  readonly #options: ConnectAuthOptions;
  /** The TCP or TLS socket under each WebSocket stream: a client certificate is read there. */
  readonly #transport = new WeakMap<Duplex, Socket>();

  constructor(options: ConnectAuthOptions) {
    this.#options = options;
  }

  /** The WebSocket `stream` runs over `socket`, where its client certificate is. */
  underWebSocket(stream: Duplex, socket: Socket): void {
    this.#transport.set(stream, socket);
  }

  preConnect(
    client: Client,
    packet: ConnectPacket,
    callback: (error: Error | null, success: boolean) => void,
  ): void {
    if (packet.protocolVersion !== 5) {
      callback(null, true);
      return;
    }
    this.#options.metrics.refusals.inc({ reason: 'protocol_unsupported', code: 'none' });
    client.conn.end(mqtt5Refusal());
    callback(null, false);
  }

  authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: AuthDone,
  ): void {
    const clientId = client.id;
    this.#identify(client, clientId, username, password).then(
      (identity) => {
        if (identity === undefined) {
          this.#options.metrics.refusals.inc({ reason: 'bad_credentials', code: 'none' });
          return done(authError(4, 'bad user name or password'), false);
        }
        // Namespaced so that one device's client id never takes over another's session.
        (client as { id: string }).id =
          `${identity.context.tenantId}/${identity.deviceId}/${clientId}`;
        const peer = (this.#transport.get(client.conn) ?? client.conn) as Partial<Socket>;
        this.#options.sessions.open(client, identity, clientId, peer.remoteAddress);
        done(null, true);
      },
      (error: unknown) => {
        this.#options.metrics.refusals.inc({ reason: 'auth_unavailable', code: 'none' });
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
}
