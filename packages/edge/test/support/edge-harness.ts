import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Platform, startPlatform } from '../../../server/src/index.ts';
import { TestApi } from '../../../server/test/support/api.ts';
import type { BackendName } from '../../../server/test/support/backends.ts';
import { type NodeFile, readNodeFile, readOutboxStatus } from '../../src/index.ts';
import { outboxPath } from '../../src/node-file.ts';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `palisade-edge …` from source to completion. */
export async function runCli(args: string[], main = MAIN): Promise<Run> {
  const child = spawn(process.execPath, ['--conditions=@palisade/source', main, ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  // 'close', not 'exit': only then has all of the child's output been read.
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** A running `palisade-edge start` child with its parsed JSON log lines. */
export class EdgeProcess {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[] = [];
  readonly exited: Promise<[number | null, string | null]>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, ['--conditions=@palisade/source', MAIN, 'start', ...args]);
    // 'close', not 'exit': only then are all of its log lines in `logs`.
    this.exited = once(this.child, 'close') as Promise<[number | null, string | null]>;
    let rest = '';
    this.child.stdout?.on('data', (d) => {
      rest += d;
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) this.logs.push(JSON.parse(line));
    });
  }

  /** Asks the node to stop (SIGTERM) and waits until it has. */
  stop(): Promise<[number | null, string | null]> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

/**
 * Starts the node in `dir` with its MQTT listener on a free port and waits until it logged
 * `started` and each of the `ready` events.
 */
export async function startNode(dir: string, ready: string[], args: string[] = []) {
  const edge = new EdgeProcess(['--dir', dir, '--mqtt', '127.0.0.1:0', ...args]);
  const logged = (event: string) => edge.logs.some((l) => l.event === event);
  await until(() => logged('started') && ready.every(logged));
  const started = edge.logs.find((l) => l.event === 'started') as Record<string, string>;
  return { edge, mqtt: started.mqtt as string, started };
}

/** Enrolls a node of the tenant holding `key` into `dir` through the command. */
export async function enrollNode(
  link: PlatformLink,
  key: string,
  dir: string,
  name = 'gw',
): Promise<NodeFile> {
  const token = await link.call('POST', '/v1/edge-nodes/enrollment-tokens', key, { name });
  const run = await runCli([
    'enroll',
    '--url',
    link.url,
    '--token',
    token.body.token,
    '--dir',
    dir,
  ]);
  assert.equal(run.code, 0, run.stderr);
  return readNodeFile(dir);
}

/** Polls (without asserting on time) until `check` holds. */
export async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 20));
}

export const drained = (dir: string) => () => readOutboxStatus(outboxPath(dir)).backlog === 0;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** An authenticated JSON call to `platform` through Fastify inject; the body parsed. */
export async function inject(
  platform: Platform,
  method: Method,
  url: string,
  key: string,
  body?: unknown,
) {
  const reply = await platform.http.inject({
    method,
    url,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  return {
    status: reply.statusCode,
    body: reply.body === '' ? undefined : JSON.parse(reply.body),
  };
}

/** What the link does with a batch request: pass it, or fail it in one of two places. */
export type Fault = 'pass' | 'drop-request' | 'drop-response' | 'hold-response';

/**
 * The platform behind a link the test controls: an HTTP front that forwards to the platform
 * (through Fastify inject), records every platform answer per batch id, and can cut the link
 * before or after the platform applied a batch, or stop and restart the platform.
 */
export class PlatformLink {
  readonly api: TestApi;
  platform: Platform | undefined;
  readonly answers = new Map<string, string[]>();
  /** Distinct batch ids in the order first seen. */
  readonly order: string[] = [];
  fault: (batchId: string, nth: number) => Fault = () => 'pass';
  onFault: (fault: Fault, response: ServerResponse) => void | Promise<void> = () => {};
  readonly #server: Server;

  private constructor(api: TestApi, server: Server) {
    this.api = api;
    this.platform = api.platform;
    this.#server = server;
    server.on('request', (req, res) => void this.#handle(req, res));
  }

  static async start(backend: BackendName = 'sqlite'): Promise<PlatformLink> {
    const api = await TestApi.start(backend);
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new PlatformLink(api, server);
  }

  get url(): string {
    const { port } = this.#server.address() as { port: number };
    return `http://127.0.0.1:${port}`;
  }

  /** A call to the current platform (it may have been restarted since `start`). */
  call(method: Method, url: string, key: string, body?: unknown) {
    return inject(this.platform!, method, url, key, body);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let fault: Fault = 'pass';
    let batchId: string | undefined;
    if (req.url === '/v1/edge/batches') {
      batchId = (JSON.parse(body) as { batchId: string }).batchId;
      if (!this.order.includes(batchId)) this.order.push(batchId);
      fault = this.fault(batchId, this.order.indexOf(batchId));
    }
    const platform = this.platform;
    if (platform === undefined || fault === 'drop-request') {
      if (fault !== 'pass') await this.onFault(fault, res);
      res.socket?.destroy();
      return;
    }
    const answer = await platform.http.inject({
      method: req.method as 'POST',
      url: req.url ?? '/',
      headers: {
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        'content-type': 'application/json',
      },
      payload: body,
    });
    if (batchId !== undefined)
      this.answers.set(batchId, [...(this.answers.get(batchId) ?? []), answer.body]);
    if (fault !== 'pass') {
      await this.onFault(fault, res);
      if (fault === 'drop-response') res.socket?.destroy();
      return;
    }
    res.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(answer.body);
  }

  async stopPlatform(): Promise<void> {
    const platform = this.platform;
    this.platform = undefined;
    await platform?.close();
  }

  async restartPlatform(): Promise<Platform> {
    this.platform = await startPlatform(this.api.fixture.settings, { listen: false });
    return this.platform;
  }

  /** Values of `n` the platform holds for a device, in time order. */
  async values(key: string, device: string): Promise<number[]> {
    const platform = this.platform ?? (await this.restartPlatform());
    const reply = await platform.http.inject({
      method: 'GET',
      url: `/v1/devices/${device}/telemetry?keys=n&from=0&to=${Date.now() + 60_000}&limit=1000`,
      headers: { authorization: `Bearer ${key}` },
    });
    return ((JSON.parse(reply.body).n ?? []) as { value: number }[]).map((p) => p.value);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
    await this.platform?.close();
    await this.api.fixture.cleanup();
  }
}

/** A tenant, `count` devices and an enrollment token on the link's platform. */
export async function tenantWithDevices(link: PlatformLink, slug: string, count: number) {
  const { key } = await link.api.tenant(slug);
  const devices: string[] = [];
  for (let i = 0; i < count; i++)
    devices.push((await link.api.call('POST', '/v1/devices', key, { name: `d${i}` })).body.id);
  const token = await link.api.call('POST', '/v1/edge-nodes/enrollment-tokens', key, {
    name: `${slug}-gw`,
  });
  return { key, devices, token: token.body.token as string };
}

/**
 * Two tenants, ada and bob, each with an enrolled node (in `dir` and `dirB`) and devices
 * with shared attributes behind it: ada's thermo and lamp, bob's theirs. `node` starts a
 * node on a directory, killed by `close` with the platform.
 */
export async function attributeNodes(backend: BackendName, prefix: string) {
  const link = await PlatformLink.start(backend);
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const dirB = mkdtempSync(join(tmpdir(), `${prefix}-b-`));
  const tenants = { ada: await link.api.tenant('ada'), bob: await link.api.tenant('bob') };
  const nodes = {
    ada: await enrollNode(link, tenants.ada.key, dir, 'ada-gw'),
    bob: await enrollNode(link, tenants.bob.key, dirB, 'bob-gw'),
  };
  const made: Record<string, { id: string; token: string }> = {};
  for (const [name, owner, attributes] of [
    ['thermo', 'ada', { target: 21, mode: 'eco' }],
    ['lamp', 'ada', { on: false }],
    ['theirs', 'bob', { secret: 'b' }],
  ] as const) {
    const reply = await link.call('POST', '/v1/devices', tenants[owner].key, {
      name,
      edgeNodeId: nodes[owner].nodeId,
      attributes,
    });
    made[name] = { id: reply.body.id, token: reply.body.credentials.token };
  }
  const running: EdgeProcess[] = [];
  return {
    link,
    key: tenants.ada.key,
    dir,
    dirB,
    made,
    node: async (at: string, ready = ['credentials-refreshed']) => {
      const started = await startNode(at, ready);
      running.push(started.edge);
      return started;
    },
    close: async () => {
      for (const edge of running) edge.child.kill('SIGKILL');
      await link.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(dirB, { recursive: true, force: true });
    },
  };
}
