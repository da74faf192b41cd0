/**
 * `npm run bench -- ingest [DEVICES] [MESSAGES] [PROCESSES]`: DEVICES simulated devices
 * (default 1,000), spread over PROCESSES MQTT.js publisher processes (default 8), each
 * publishing MESSAGES QoS 1 telemetry messages (default 100) one after another. Run against
 * Palisade (in this process, embedded SQLite: every PUBACK means committed and ledgered) and,
 * in the same run, against Mosquitto at 127.0.0.1:1883 (or PALISADE_TEST_MQTT_PEER_URL) on the
 * same machine. Prints msgs/s and PUBLISH→PUBACK p50/p99 for both, and the ratio.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSettings, startPlatform } from '../packages/server/src/index.ts';

const ADMIN = `pa_bench_${'i'.repeat(40)}`;
const PUBLISHER = fileURLToPath(new URL('./_ingest-publisher.ts', import.meta.url));
/**
 * Messages per device by default. Short runs flatter Palisade: with 20 a device, Mosquitto's
 * connection ramp weighs on its rate (15,435 msgs/s against 20,716–24,833 with 60–150 a
 * device, same machine and hour), while Palisade's barely moves (6,833 against 6,920–7,703).
 */
const MESSAGES = 100;
/** Devices created per HTTP round (each is a ledgered write). */
const CREATE_BATCH = 100;

export interface Figures {
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly failed: number;
  /** CPU time of this process (all its threads) per acknowledged message, in µs. */
  readonly ownCpuPerMessage: number;
}

function line(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const end = buffer.indexOf('\n');
      if (end < 0) return;
      child.stdout!.off('data', onData);
      resolve(buffer.slice(0, end));
    };
    child.stdout!.on('data', onData);
    // 'close' comes after the last of its output was read: a line still missing never comes.
    child.once('close', (code) => reject(new Error(`publisher exited with ${code} before a line`)));
  });
}

/** Runs the publisher processes against one broker and measures the publishing phase. */
export async function measure(
  url: string,
  usernames: readonly string[],
  topic: string,
  messages: number,
  processes: number,
): Promise<Figures> {
  const share = Math.ceil(usernames.length / processes);
  const children = Array.from({ length: processes }, () =>
    spawn(process.execPath, ['--conditions=@palisade/source', PUBLISHER], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }).once('error', () => undefined),
  );
  const ready = children.map((child) => line(child));
  children.forEach((child, p) => {
    const mine = usernames.slice(p * share, (p + 1) * share);
    child.stdin!.write(
      `${JSON.stringify({ url, usernames: mine, topic: topic.replace('{p}', String(p)), messages })}\n`,
    );
  });
  await Promise.all(ready);
  const results = children.map((child) => line(child));
  const start = performance.now();
  const cpu = process.cpuUsage();
  for (const child of children) child.stdin!.write('go\n');
  const reports = (await Promise.all(results)).map(
    (text) => JSON.parse(text) as { acked: number; failed: number; latencies: number[] },
  );
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const latencies = reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    rate: latencies.length / seconds,
    p50: at(0.5),
    p99: at(0.99),
    failed: reports.reduce((n, r) => n + r.failed, 0),
    ownCpuPerMessage: (used.user + used.system) / Math.max(1, latencies.length),
  };
}

export function print(name: string, f: Figures): void {
  const rate = Math.round(f.rate).toLocaleString('en');
  console.log(
    `  ${name.padEnd(28)} ${rate.padStart(8)} msgs/s   p50 ${f.p50.toFixed(2)} ms   p99 ${f.p99.toFixed(2)} ms${f.failed > 0 ? `   (${f.failed} failed)` : ''}`,
  );
}

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port), timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => resolve(false));
  });
}

export async function run(args: string[]): Promise<void> {
  const devices = Number(args[0] ?? 1000);
  const messages = Number(args[1] ?? MESSAGES);
  const processes = Number(args[2] ?? 8);
  console.log(
    `ingest: ${devices} devices in ${processes} MQTT.js processes, ${messages} QoS 1 messages each (next after PUBACK)`,
  );
  const data = mkdtempSync(join(tmpdir(), 'palisade-bench-ingest-'));
  const settings = loadSettings({
    flags: {
      data,
      listen: '127.0.0.1:0',
      mqtt: '127.0.0.1:0',
      logLevel: 'silent',
      adminToken: ADMIN,
    },
    env: {},
    configFile: null,
  });
  const platform = await startPlatform(settings);
  try {
    const call = async (method: 'POST', url: string, token: string, body: unknown) => {
      const reply = await platform.http.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });
      if (reply.statusCode >= 300) throw new Error(`${url}: ${reply.statusCode} ${reply.body}`);
      return JSON.parse(reply.body);
    };
    const tenant = await call('POST', '/v1/platform/tenants', ADMIN, {
      slug: 'bench',
      name: 'bench',
    });
    const key = await call('POST', `/v1/platform/tenants/${tenant.id}/api-keys`, ADMIN, {
      name: 'b',
    });
    const tokens: string[] = [];
    for (let i = 0; i < devices; i += CREATE_BATCH) {
      const made = await Promise.all(
        Array.from({ length: Math.min(CREATE_BATCH, devices - i) }, (_, j) =>
          call('POST', '/v1/devices', key.secret, { name: `dev-${i + j}` }),
        ),
      );
      tokens.push(...made.map((d) => d.credentials.token as string));
    }
    const palisade = await measure(
      platform.mqtt!.url,
      tokens,
      'v1/devices/me/telemetry',
      messages,
      processes,
    );
    print('Palisade (durable, ledgered)', palisade);
    console.log(
      `  ${''.padEnd(28)} server CPU ${palisade.ownCpuPerMessage.toFixed(1)} µs/msg (all threads)`,
    );
    const peer = process.env.PALISADE_TEST_MQTT_PEER_URL ?? 'mqtt://127.0.0.1:1883';
    if (!(await reachable(peer))) {
      console.log(`  Mosquitto: not reachable at ${peer}; no ratio`);
      return;
    }
    const names = tokens.map((_, i) => `bench-${i}`);
    const mosquitto = await measure(peer, names, 'bench/palisade/{p}/{i}', messages, processes);
    print('Mosquitto (QoS 1)', mosquitto);
    console.log(`  ratio Palisade / Mosquitto: ${(palisade.rate / mosquitto.rate).toFixed(2)}x`);
  } finally {
    await platform.close();
    rmSync(data, { recursive: true, force: true });
  }
}
