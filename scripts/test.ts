/**
 * Runs every test file with Node's test runner. Suites that need PostgreSQL or NATS read
 * PALISADE_TEST_POSTGRES_URL / PALISADE_TEST_NATS_URL; when those are unset this script
 * probes the usual local addresses, exports what answers, and says in one line what it
 * skips. Under CI=true nothing may be skipped: an unreachable service fails the run.
 */
import { spawnSync } from 'node:child_process';
import { glob } from 'node:fs/promises';
import { connect } from 'node:net';

const services = [
  { env: 'PALISADE_TEST_POSTGRES_URL', url: 'postgres://postgres@127.0.0.1:5432/postgres' },
  { env: 'PALISADE_TEST_NATS_URL', url: 'nats://127.0.0.1:4222' },
  { env: 'PALISADE_TEST_MQTT_PEER_URL', url: 'mqtt://127.0.0.1:1883' },
] as const;

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port), timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const missing: string[] = [];
for (const service of services) {
  const url = process.env[service.env] ?? service.url;
  if (await reachable(url)) {
    process.env[service.env] = url;
  } else {
    delete process.env[service.env];
    missing.push(`${service.env} (${url})`);
  }
}
if (missing.length > 0) {
  if (process.env.CI === 'true') {
    console.error(
      `CI must not skip suites, but these services are unreachable: ${missing.join(', ')}`,
    );
    process.exit(1);
  }
  console.log(`skipping the suites that need: ${missing.join(', ')}`);
}

const files: string[] = [];
for await (const file of glob(
  process.argv.slice(2).length > 0
    ? process.argv.slice(2)
    : ['packages/*/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
)) {
  files.push(file);
}
files.sort();

/** A test that hangs fails after this long instead of holding CI to its time limit. */
const TEST_TIMEOUT_MS = 300_000;

const result = spawnSync(
  process.execPath,
  [
    '--conditions=@palisade/source',
    '--test',
    '--test-concurrency=4',
    `--test-timeout=${TEST_TIMEOUT_MS}`,
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: 'inherit', env: process.env },
);
process.exit(result.status ?? 1);
