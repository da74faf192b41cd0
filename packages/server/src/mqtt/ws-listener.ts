/**
 * MQTT over WebSocket (ws:// or wss://, any path), for devices and gateways behind proxies
 * that pass only HTTP(S). Each WebSocket becomes a byte stream (`createWebSocketStream`)
 * handed to the same broker as a TCP connection, so authentication, topic rules, durability
 * and back-pressure are the TCP listener's: while the broker does not read the stream, ws
 * stops reading the socket.
 *
 * The upgrade must offer the `mqtt` subprotocol (MQTT 3.1.1 §6); anything else is answered
 * with an HTTP error and never reaches the broker. Compression is off (a small compressed
 * frame could inflate past the packet bound) and a frame larger than the packet bound closes
 * the WebSocket with 1009 before it is buffered whole.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocketServer } from 'ws';

/** The WebSocket subprotocol MQTT clients offer and the listener selects. */
export const MQTT_SUBPROTOCOL = 'mqtt';

/** Certificate of a wss:// listener. */
export interface WsTlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** Key-exchange groups in order of preference (OpenSSL `ecdhCurve`). */
  readonly ecdhCurve?: string | undefined;
}

export interface MqttWsServerOptions {
  readonly tls?: WsTlsOptions | undefined;
  /** Largest WebSocket message, in bytes (the MQTT packet bound). */
  readonly maxPayload: number;
  /** Hands an accepted connection to the broker; `socket` is the TCP or TLS socket under it. */
  accept(stream: Duplex, socket: Socket): void;
  /** An upgrade was refused (no `mqtt` subprotocol offered). */
  refused(): void;
}

/** Whether a `Sec-WebSocket-Protocol` header offers `mqtt`. */
function offersMqtt(request: IncomingMessage): boolean {
  const header = request.headers['sec-websocket-protocol'];
  return (header ?? '').split(',').some((p) => p.trim() === MQTT_SUBPROTOCOL);
}

function refuse(socket: Duplex, status: string, reason: string): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** An HTTP(S) server that upgrades to MQTT over WebSocket and answers anything else 426. */
export function createMqttWsServer(options: MqttWsServerOptions): Server {
  const sockets = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: options.maxPayload,
    handleProtocols: (offered) => (offered.has(MQTT_SUBPROTOCOL) ? MQTT_SUBPROTOCOL : false),
  });
  const { tls } = options;
  const server =
    tls === undefined
      ? createHttpServer()
      : createHttpsServer({
          cert: tls.cert,
          key: tls.key,
          minVersion: 'TLSv1.2',
          // Devices may authenticate with a client certificate; the authenticator checks it.
          requestCert: true,
          rejectUnauthorized: false,
          ...(tls.ecdhCurve === undefined ? {} : { ecdhCurve: tls.ecdhCurve }),
        });
  server.on('request', (_request, response) => {
    response.writeHead(426, { connection: 'close', upgrade: 'websocket' });
    response.end('this address speaks MQTT over WebSocket (subprotocol "mqtt")\n');
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (!offersMqtt(request)) {
      options.refused();
      refuse(socket, '400 Bad Request', 'offer the WebSocket subprotocol "mqtt"');
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => {
      const stream = createWebSocketStream(ws);
      // mqtt-packet writes a packet as several corked pieces: send them as one message.
      stream._writev = (chunks, callback) =>
        ws.send(Buffer.concat(chunks.map(({ chunk }) => chunk as Buffer)), callback);
      stream.on('error', () => stream.destroy());
      options.accept(stream, request.socket);
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  return server;
}
