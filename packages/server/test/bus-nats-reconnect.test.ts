import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { BusError, NatsBus } from '../src/bus/index.ts';
import { busFixture, tenantContext, until } from './support/buses.ts';
import { freePort } from './support/free-port.ts';

const NATS_SERVER = '/usr/sbin/nats-server';

/** A private nats-server (JetStream in `dir`), so the test can take it down and up again. */
async function startServer(port: number, dir: string): Promise<ChildProcess> {
  const server = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
    stdio: 'ignore',
  });
  for (;;) {
    const probe = await connect({ servers: `nats://127.0.0.1:${port}` }).catch(() => undefined);
    if (probe !== undefined) return probe.close().then(() => server);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
}

test('the NATS bus outlives an outage longer than the client’s reconnect budget, and closes during one', {
  skip: process.env.PALISADE_TEST_NATS_URL === undefined && 'needs PALISADE_TEST_NATS_URL',
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-nats-'));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  let server = await startServer(port, dir);
  t.after(async () => {
    await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  });
  const { limits } = busFixture('nats');
  const bus = await NatsBus.open({ ...limits, url, duplicateWindowMs: 60_000 });
  t.after(() => bus.close());
  const context = tenantContext('acme');
  const seen: string[] = [];
  const first = until(() => seen.includes('before'));
  const last = until(() => seen.includes('after'));
  await bus.subscribe(context, {
    durable: 'outage',
    handler: async (m) => {
      seen.push(m.id);
      await m.ack();
      first.tick();
      last.tick();
    },
  });
  await bus.publish(context, { kind: 'record', key: 'k', id: 'before', payload: {} });
  await first.done;

  // nats.js gives up after 10 reconnect attempts by default; a witness allowed two more
  // closes only once a bus on the default would have given up for good.
  const witness = await connect({ servers: url, maxReconnectAttempts: 12 });
  await stopServer(server);
  await assert.rejects(
    bus.publish(context, { kind: 'record', key: 'k', id: 'during', payload: {} }),
    (error: unknown) => error instanceof BusError && error.code === 'PALISADE_BUS_UNAVAILABLE',
  );
  await witness.closed();

  server = await startServer(port, dir);
  // As the relay does: retry while JetStream recovers its stream (a publish times out).
  for (let attempt = 1; ; attempt++) {
    const sent = await bus
      .publish(context, { kind: 'record', key: 'k', id: 'after', payload: {} })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    if (sent === undefined) break;
    if (attempt === 5) throw sent;
  }
  await last.done;

  // Closing needs no server: a drain would wait for one forever.
  await stopServer(server);
  await bus.close();
});
