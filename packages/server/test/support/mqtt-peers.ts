/**
 * MQTT peers nobody here wrote: Debian's mosquitto_pub/mosquitto_sub and MQTT.js, plus a raw
 * TCP socket for bytes no client library would send.
 */
import { execFile, spawn } from 'node:child_process';
import { type Socket, connect as tcpConnect } from 'node:net';
import { connectAsync, type IClientOptions, type ISubscriptionMap, type MqttClient } from 'mqtt';

/** Guards against a hung peer; never a timing assertion. */
export const PEER_TIMEOUT_MS = 20_000;

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs mosquitto_pub (or another CLI) to completion. */
export function runCli(command: string, args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: PEER_TIMEOUT_MS }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `host` and `port` of an mqtt:// URL as mosquitto CLI arguments. */
export function cliAddress(url: string): string[] {
  const { hostname, port } = new URL(url);
  return ['-h', hostname, '-p', port];
}

/**
 * Starts mosquitto_sub and resolves once it is subscribed (it prints nothing until then, so
 * `-d` debug output is watched for SUBACK). `messages` collects `topic payload` lines.
 */
export async function startSub(
  url: string,
  args: readonly string[],
): Promise<{
  messages: string[];
  suback: string;
  stop(): Promise<CliResult>;
  /** Resolves when mosquitto_sub exits by itself (after `-C N` messages). */
  finished(): Promise<CliResult>;
}> {
  // stdout is a pipe here, which mosquitto_sub would block-buffer: stdbuf makes it line-buffered.
  const child = spawn('stdbuf', ['-oL', 'mosquitto_sub', ...cliAddress(url), '-d', '-v', ...args]);
  // 'close', not 'exit': only then have all of its lines been read.
  const closed = new Promise<[number | null]>((resolve) =>
    child.once('close', (code) => resolve([code])),
  );
  const messages: string[] = [];
  let stdout = '';
  let stderr = '';
  let suback = '';
  const subscribed = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (data: string) => {
      stdout += data;
      for (const line of data.split('\n')) {
        if (line.startsWith('Subscribed (mid:')) {
          suback = line;
          resolve();
        }
        if (line.startsWith('v1/')) messages.push(line);
      }
    });
    child.stderr.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    child.once('exit', () => reject(new Error(`mosquitto_sub exited: ${stdout}${stderr}`)));
  });
  await subscribed;
  await new Promise((resolve) => setImmediate(resolve));
  return {
    messages,
    get suback() {
      return suback;
    },
    finished: () => closed.then(([code]) => ({ code, stdout, stderr })),
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return closed.then(([code]) => ({ code, stdout, stderr }));
    },
  };
}

/** An MQTT.js 3.1.1 client that does not reconnect on its own. */
export function mqttClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return connectAsync(url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: PEER_TIMEOUT_MS,
    ...options,
  });
}

/** The messages a client receives, as `[topic, parsed JSON payload]`, taken one at a time. */
export function messageInbox(client: MqttClient): () => Promise<[string, unknown]> {
  const arrived: Array<[string, unknown]> = [];
  let wake: (() => void) | undefined;
  client.on('message', (topic, payload) => {
    arrived.push([topic, JSON.parse(payload.toString())]);
    wake?.();
  });
  return async () => {
    while (arrived.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return arrived.shift()!;
  };
}

/** Resolves when the client's connection is closed by the server. */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) return resolve();
    client.once('close', () => resolve());
  });
}

/** A raw TCP connection to the listener, for hand-made bytes. */
export function rawSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: hostname, port: Number(port) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the server sends until it closes the socket. */
export function readUntilClosed(socket: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** An MQTT 3.1.1 CONNECT with a user name (the access token) and no password. */
export function connectPacket(clientId: string, token: string): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s);
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, 0x82, 0, 60]),
    str(clientId),
    str(token),
  ]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/** MQTT's variable-length Remaining Length encoding. */
export function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
}

/** SUBSCRIBE and the granted QoS per filter (128 = refused), refused filters included. */
export async function subscribeGranted(
  client: MqttClient,
  filters: ISubscriptionMap,
): Promise<Array<{ topic: string; qos: number }>> {
  const topics = Object.keys(filters);
  return new Promise((resolve, reject) => {
    client.subscribe(filters, (error, granted, packet) => {
      const codes = (packet as { granted?: number[] } | undefined)?.granted;
      if (codes !== undefined)
        return resolve(topics.map((topic, i) => ({ topic, qos: codes[i]! })));
      if (error) return reject(error);
      resolve((granted ?? []).map((g) => ({ topic: g.topic, qos: g.qos })));
    });
  });
}

/**
 * Publishes and reports whether the listener acknowledged the message or closed the
 * connection instead (MQTT 3.1.1 has no negative PUBACK).
 */
export async function publishOutcome(
  client: MqttClient,
  topic: string,
  payload: string | Buffer,
  qos: 0 | 1 = 1,
): Promise<'acknowledged' | 'refused'> {
  const outcome = client.publishAsync(topic, payload, { qos }).then(
    () => 'acknowledged' as const,
    () => 'refused' as const,
  );
  const first = await Promise.race([outcome, closed(client).then(() => 'closed' as const)]);
  if (first !== 'closed') return first;
  client.end(true); // MQTT.js fails the pending publish only when ended
  return outcome;
}
