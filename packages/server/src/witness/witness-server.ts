/**
 * The witness's HTTP face on plain node:http: `POST /add-checkpoint` (C2SP tlog-witness) and
 * nothing else. Bodies are read under a size limit and decoded as strict UTF-8 before the
 * {@link Witness} sees them; every reply is plain text.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Witness, WitnessReply } from './witness-service.ts';

/** Largest add-checkpoint body accepted (a Palisade checkpoint with both signatures is ~4 KiB). */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** A request must arrive completely within this time. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** Keep-alive connections idle longer than this are closed. */
export const KEEP_ALIVE_TIMEOUT_MS = 30_000;
/** On close, in-flight requests get this long before connections are cut. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

/** The path of the one endpoint, under the root submission prefix. */
const ADD_CHECKPOINT_PATH = '/add-checkpoint';

/** Options for {@link listenWitness}. */
export interface WitnessServerOptions {
  readonly host: string;
  /** 0 picks a free port; read it back from `url`. */
  readonly port: number;
  readonly witness: Witness;
  readonly logger: Logger;
  readonly maxRequestBytes?: number;
}

/** A listening witness HTTP server. */
export interface WitnessServer {
  /** `http://host:port`, the submission prefix. */
  readonly url: string;
  readonly server: Server;
  /** Stops accepting requests and waits for in-flight ones (bounded). Idempotent. */
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

function send(res: ServerResponse, reply: WitnessReply, headers: Record<string, string> = {}) {
  const body = Buffer.from(reply.body, 'utf8');
  res.writeHead(reply.status, {
    'content-type': reply.contentType,
    'content-length': String(body.length),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

function plain(status: number, message: string): WitnessReply {
  return { status, contentType: 'text/plain; charset=utf-8', body: `${message}\n` };
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req) {
    length += (chunk as Buffer).length;
    if (length > limit) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, length);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  options: WitnessServerOptions,
): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== ADD_CHECKPOINT_PATH) return send(res, plain(404, 'not found'));
  if (req.method !== 'POST')
    return send(res, plain(405, 'use POST'), { allow: 'POST', connection: 'close' });
  let body: string;
  try {
    body = utf8.decode(await readBody(req, options.maxRequestBytes ?? MAX_REQUEST_BYTES));
  } catch (error) {
    if (error instanceof BodyTooLarge)
      return send(res, plain(413, 'request body too large'), { connection: 'close' });
    if (error instanceof TypeError) return send(res, plain(400, 'request body is not UTF-8'));
    throw error;
  }
  send(res, await options.witness.addCheckpoint(body));
}

function formatUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Starts the HTTP server and resolves once it listens. */
export async function listenWitness(options: WitnessServerOptions): Promise<WitnessServer> {
  const { logger, witness } = options;
  let closing = false;
  const server = createServer((req, res) => {
    if (closing) res.setHeader('connection', 'close');
    route(req, res, options).catch((error: unknown) => {
      logger.error({ err: error }, 'add-checkpoint failed');
      if (!res.headersSent) send(res, plain(500, 'internal error'), { connection: 'close' });
      else res.destroy();
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = formatUrl(options.host, (server.address() as AddressInfo).port);
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_TIMEOUT_MS);
      });
      await Promise.race([stopped, late]);
      clearTimeout(timer);
      server.closeAllConnections();
      await witness.idle();
    })();
    return closed;
  };
  return { url, server, close };
}
