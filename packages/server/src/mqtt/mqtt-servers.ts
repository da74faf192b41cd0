import type { Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { Aedes } from 'aedes';
import { FrameGuard } from './frame-guard.ts';
import type { MqttMetrics } from './mqtt-metrics.ts';
import { createMqttWsServer, type WsTlsOptions } from './ws-listener.ts';

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

/** What the servers hand their connections to. */
export interface MqttServersOptions {
  readonly broker: Aedes;
  readonly metrics: MqttMetrics;
  /** Largest MQTT packet a client may send (`MqttLimits.maxPacket`). */
  readonly maxPacket: number;
  /** Told the TCP or TLS socket under each WebSocket stream. */
  readonly underWebSocket: (stream: Duplex, socket: Socket) => void;
}

/**
 * The TCP, TLS and WebSocket servers of the listener: each hands its connections to the one
 * broker, every socket read passing the frame guard first.
 */
export class MqttServers {
  readonly #options: MqttServersOptions;
  readonly #servers: Array<Server | HttpServer> = [];

  constructor(options: MqttServersOptions) {
    this.#options = options;
  }

  /** Listens for MQTT over TCP; resolves to its `mqtt://` URL. */
  async listenTcp(host: string, port: number): Promise<string> {
    const tcp = createServer((socket) => this.#acceptSocket(socket));
    const url = `mqtt://${hostForUrl(host)}:${await listen(tcp, host, port)}`;
    this.#servers.push(tcp);
    return url;
  }

  /** Listens for MQTT over TLS; resolves to its `mqtts://` URL. */
  async listenTls(tls: MqttTlsOptions): Promise<string> {
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
    const url = `mqtts://${hostForUrl(tls.host)}:${await listen(secure, tls.host, tls.port)}`;
    this.#servers.push(secure);
    return url;
  }

  /** Listens for MQTT over WebSocket; resolves to its `ws://` or `wss://` URL. */
  async listenWs(ws: MqttWsOptions): Promise<string> {
    const server = createMqttWsServer({
      tls: ws.tls,
      maxPayload: this.#options.maxPacket,
      accept: (stream, socket) => {
        this.#options.underWebSocket(stream, socket);
        socket.setNoDelay(true);
        this.#accept(stream);
      },
      refused: () =>
        this.#options.metrics.refusals.inc({ reason: 'websocket_subprotocol', code: 'none' }),
    });
    const scheme = ws.tls === undefined ? 'ws' : 'wss';
    const url = `${scheme}://${hostForUrl(ws.host)}:${await listen(server, ws.host, ws.port)}`;
    this.#servers.push(server);
    return url;
  }

  #acceptSocket(socket: Socket): void {
    socket.setNoDelay(true);
    this.#accept(socket);
  }

  #accept(socket: Duplex): void {
    const client = this.#options.broker.handle(socket);
    // aedes feeds each socket read to mqtt-packet's parser; the guard sees it first.
    const parser = (client as unknown as { _parser: PacketParser })._parser;
    // aedes closes the connection at its parser's first error: one refusal a connection.
    parser.once('error', () =>
      this.#options.metrics.refusals.inc({ reason: 'malformed_packet', code: 'none' }),
    );
    const parse = parser.parse.bind(parser);
    const guard = new FrameGuard(this.#options.maxPacket);
    parser.parse = (chunk) => {
      const refusal = guard.refusal(chunk);
      if (refusal === undefined) return parse(chunk);
      this.#options.metrics.refusals.inc({ reason: refusal, code: 'none' });
      socket.destroy();
      return 0;
    };
  }

  /** Stops accepting; resolves once every server closed. */
  async close(): Promise<void> {
    await Promise.all(
      this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
  }
}

/** mqtt-packet's parser inside an aedes client: fed each read, emits 'error' on a bad packet. */
interface PacketParser {
  parse(chunk: Buffer): unknown;
  once(event: 'error', listener: (error: Error) => void): unknown;
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
