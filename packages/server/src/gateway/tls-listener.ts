/**
 * HTTPS with a post-quantum key exchange: the listener prefers the groups of `serverGroups`
 * (the hybrid X25519MLKEM768, then X25519).
 *
 * Node reports the negotiated group only on the client side, so the listener reads each
 * connection's ClientHello (supported_groups and key_share, before TLS starts) and derives
 * the group as OpenSSL chooses it for a one-tuple server list: the first server-preferred group
 * the client sent a key share for, else (after a HelloRetryRequest) the first one it supports.
 */
import { readFileSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { serverGroups } from '@palisade/crypto';

const GROUP_CODES: Record<number, string> = {
  4588: 'X25519MLKEM768',
  4587: 'SecP256r1MLKEM768',
  29: 'X25519',
  23: 'P-256',
  24: 'P-384',
  25: 'P-521',
};
const HANDSHAKE = 22;
const EXT_SUPPORTED_GROUPS = 10;
const EXT_KEY_SHARE = 51;
/** Most bytes read while waiting for a whole ClientHello record (a TLS record's maximum). */
const CLIENT_HELLO_MAX = 16_389;

/** What a ClientHello offers: its supported groups and the groups it sent key shares for. */
export function parseClientHello(
  chunk: Buffer,
): { supported: number[]; shares: number[] } | undefined {
  try {
    if (chunk[0] !== HANDSHAKE || chunk[5] !== 1) return undefined;
    let p = 9 + 2 + 32; // record + handshake headers, version, random
    p += 1 + chunk[p]!; // session id
    p += 2 + chunk.readUInt16BE(p); // cipher suites
    p += 1 + chunk[p]!; // compression methods
    const end = p + 2 + chunk.readUInt16BE(p);
    p += 2;
    const out = { supported: [] as number[], shares: [] as number[] };
    while (p + 4 <= end && p + 4 <= chunk.length) {
      const type = chunk.readUInt16BE(p);
      const length = chunk.readUInt16BE(p + 2);
      const body = p + 4;
      if (type === EXT_SUPPORTED_GROUPS) {
        for (let i = body + 2; i < body + length; i += 2) out.supported.push(chunk.readUInt16BE(i));
      } else if (type === EXT_KEY_SHARE) {
        for (let i = body + 2; i + 4 <= body + length; ) {
          out.shares.push(chunk.readUInt16BE(i));
          i += 4 + chunk.readUInt16BE(i + 2);
        }
      }
      p = body + length;
    }
    return out;
  } catch {
    return undefined;
  }
}

/** The group OpenSSL picks for `offer` given the server's preference list. */
export function chooseGroup(
  offer: { supported: number[]; shares: number[] },
  preference: readonly string[],
): string | undefined {
  const names = (codes: number[]) => codes.map((c) => GROUP_CODES[c]);
  const shares = names(offer.shares);
  const supported = names(offer.supported);
  return (
    preference.find((g) => shares.includes(g)) ?? preference.find((g) => supported.includes(g))
  );
}

const groups = new WeakMap<object, string>();

/** The key-exchange group negotiated on a request's socket, when it is TLS. */
export function negotiatedGroup(socket: Socket): string | undefined {
  const raw = (socket as Socket & { _parent?: object })._parent ?? socket;
  return groups.get(raw);
}

/** PEM file contents for the listener. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
}

/** A Fastify `serverFactory` serving HTTPS with the hybrid group preferred. */
export function httpsServerFactory(files: TlsFiles) {
  const preference = serverGroups();
  return (handler: RequestListener): https.Server => {
    const server = https.createServer(
      {
        cert: readFileSync(files.cert),
        key: readFileSync(files.key),
        ecdhCurve: preference.join(':'),
        minVersion: 'TLSv1.2',
        honorCipherOrder: true,
      },
      handler,
    );
    const startTls = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      let hello = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        hello = Buffer.concat([hello, chunk]);
        // A hybrid key share makes the ClientHello span TCP segments: wait for the whole record.
        const whole = hello.length >= 5 && hello[0] === HANDSHAKE ? 5 + hello.readUInt16BE(3) : 0;
        if (hello.length < whole && hello.length < CLIENT_HELLO_MAX) return;
        socket.off('data', onData);
        socket.pause();
        const offer = parseClientHello(hello);
        const group = offer === undefined ? undefined : chooseGroup(offer, preference);
        if (group !== undefined) groups.set(socket, group);
        socket.unshift(hello);
        for (const listener of startTls) listener.call(server, socket);
      };
      socket.on('data', onData);
    });
    return server;
  };
}
