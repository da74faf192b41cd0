/**
 * One publisher process of `bench/ingest.ts`: connects its share of the simulated devices
 * with MQTT.js, says `ready`, waits for `go` on stdin, then each device publishes MESSAGES
 * QoS 1 telemetry messages one after another (the next after the PUBACK), and prints one
 * JSON line with the count and every message's PUBLISH→PUBACK latency in milliseconds.
 */
import { connectAsync, type MqttClient } from 'mqtt';

interface Job {
  readonly url: string;
  /** Per device: MQTT user name (Palisade access token, or anything for Mosquitto). */
  readonly usernames: readonly string[];
  /** Per device topic; `{i}` is replaced by the device index. */
  readonly topic: string;
  readonly messages: number;
}

const job = JSON.parse(await readLine()) as Job;
/** Connections opened at once, so a thousand devices do not stampede the listener. */
const CONNECT_BATCH = 50;
const clients: MqttClient[] = [];
for (let i = 0; i < job.usernames.length; i += CONNECT_BATCH) {
  const batch = job.usernames
    .slice(i, i + CONNECT_BATCH)
    .map((username) =>
      connectAsync(job.url, { protocolVersion: 4, username, reconnectPeriod: 0, clean: true }),
    );
  clients.push(...(await Promise.all(batch)));
}
process.stdout.write('ready\n');
await readLine();
const latencies: number[] = [];
let failed = 0;
await Promise.all(
  clients.map(async (client, i) => {
    const topic = job.topic.replace('{i}', String(i));
    for (let seq = 0; seq < job.messages; seq++) {
      const payload = JSON.stringify({
        ts: Date.now(),
        values: { seq, temperature: 20 + (seq % 7) },
      });
      const start = performance.now();
      try {
        await client.publishAsync(topic, payload, { qos: 1 });
        latencies.push(performance.now() - start);
      } catch {
        failed++;
      }
    }
  }),
);
// A pipe takes 64 KiB at once and the report is larger: exit only once all of it is written.
await new Promise((resolve) =>
  process.stdout.write(
    `${JSON.stringify({ acked: latencies.length, failed, latencies })}\n`,
    resolve,
  ),
);
await Promise.all(clients.map((c) => c.endAsync()));
process.exit(0);

function readLine(): Promise<string> {
  return new Promise((resolve) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const end = buffer.indexOf('\n');
      if (end < 0) return;
      process.stdin.off('data', onData);
      process.stdin.pause();
      resolve(buffer.slice(0, end));
    };
    process.stdin.on('data', onData);
    process.stdin.resume();
  });
}
