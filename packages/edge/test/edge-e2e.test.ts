/**
 * The whole path with real processes: MQTT.js devices → `palisade-edge start --mqtt` → a
 * `palisade start` that is stopped for a while and started again on the same data. Every
 * message arrives exactly once and in order per device, and the tenant's ledger export (an
 * offline-verifiable proof) opens the entry holding each message (one per device and batch)
 * to its value and the edge node that vouched for it. Batches sent twice and out of order on purpose are still applied once.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  canonicalJson,
  fromBase64Url,
  type LedgerBundle,
  parseCanonicalJson,
  parseVerifierKey,
  verifyBundle,
  verifyStateCommitment,
} from '@palisade/ledger';
import { nodeHasher, nodeSha256, nodeVerifyProvider } from '@palisade/ledger/node';
import { connectAsync, type MqttClient } from 'mqtt';
import { freePort } from '../../server/test/support/free-port.ts';
import { httpCall } from '../../server/test/support/http.ts';
import { readNodeFile, readOutboxStatus } from '../src/index.ts';
import { type NodeFile, outboxPath } from '../src/node-file.ts';
import { EdgeProcess, runCli, until } from './support/edge-harness.ts';

const PALISADE = fileURLToPath(new URL('../../cli/src/main.ts', import.meta.url));
const ADMIN = `pa_${'e'.repeat(43)}`;
const DEVICES = 3;
const PER_PHASE = 50;

/** `palisade start` from source on a fixed port and data directory, until it listens. */
async function startPalisade(data: string, port: number): Promise<ChildProcess> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('PALISADE_') && k !== 'NODE_OPTIONS' && !k.startsWith('NODE_TEST'),
    ),
  );
  const child = spawn(
    process.execPath,
    [
      '--conditions=@palisade/source',
      PALISADE,
      'start',
      '--data',
      data,
      '--listen',
      `127.0.0.1:${port}`,
      '--admin-token',
      ADMIN,
      '--log-level',
      'info',
      '--mqtt',
      'off',
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stderr?.on('data', (d) => {
    out += d;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      out += d;
      if (out.includes('palisade is listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`palisade exited with ${code}:\n${out}`)));
  });
  return child;
}

async function stopPalisade(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

describe('devices → edge → platform, with the platform down for a while', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-e2e-'));
  const data = join(dir, 'platform');
  const nodeDir = join(dir, 'node');
  let port: number;
  let url: string;
  let palisade: ChildProcess;
  let edge: EdgeProcess;
  let key: string;
  let node: NodeFile;
  const devices: { id: string; token: string; client?: MqttClient }[] = [];
  const base = Date.now() - 3_600_000;

  const call = (method: string, path: string, token: string, body?: unknown) =>
    httpCall(url, method, path, token, body);

  /** Each device publishes messages `from` … `from + PER_PHASE - 1` at QoS 1, in order. */
  async function publishPhase(from: number): Promise<void> {
    await Promise.all(
      devices.map(async (device) => {
        for (let i = from; i < from + PER_PHASE; i++)
          await device.client!.publishAsync(
            'v1/devices/me/telemetry',
            JSON.stringify({ ts: base + i, values: { n: i } }),
            { qos: 1 },
          );
      }),
    );
  }

  before(async () => {
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    palisade = await startPalisade(data, port);
    const tenant = await call('POST', '/v1/platform/tenants', ADMIN, { slug: 'e2e', name: 'E2E' });
    key = (await call('POST', `/v1/platform/tenants/${tenant.body.id}/api-keys`, ADMIN, {})).body
      .secret;
    const token = await call('POST', '/v1/edge-nodes/enrollment-tokens', key, { name: 'gw' });
    const enrolled = await runCli([
      'enroll',
      '--url',
      url,
      '--token',
      token.body.token,
      '--dir',
      nodeDir,
    ]);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    node = readNodeFile(nodeDir);
    for (let d = 0; d < DEVICES; d++) {
      const made = await call('POST', '/v1/devices', key, {
        name: `meter-${d}`,
        edgeNodeId: node.nodeId,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      devices.push({ id: made.body.id, token: made.body.credentials.token });
    }
    edge = new EdgeProcess([
      '--dir',
      nodeDir,
      '--mqtt',
      '127.0.0.1:0',
      '--batch-max-messages',
      '25',
    ]);
    await until(() =>
      edge.logs.some((l) => l.event === 'credentials-refreshed' && l.devices === DEVICES),
    );
    const listening = String(edge.logs.find((l) => l.event === 'started')?.mqtt);
    for (const device of devices)
      device.client = await connectAsync(listening, { username: device.token, reconnectPeriod: 0 });
  });

  after(async () => {
    for (const device of devices) await device.client?.endAsync();
    await edge?.stop();
    if (palisade.exitCode === null) await stopPalisade(palisade);
    rmSync(dir, { recursive: true, force: true });
  });

  it('every message arrives exactly once, in order per device, through a platform outage', async () => {
    await publishPhase(0);
    await until(() => readOutboxStatus(outboxPath(nodeDir)).backlog === 0);
    await stopPalisade(palisade);
    // The platform is down: devices still get their PUBACKs, the edge holds the messages.
    await publishPhase(PER_PHASE);
    const status = await runCli(['status', '--dir', nodeDir, '--json']);
    const held = JSON.parse(status.stdout);
    assert.equal(held.backlog, DEVICES * PER_PHASE);
    assert.equal(held.credentials.devices, DEVICES, 'the devices connect from the cache');
    await until(() => edge.logs.some((l) => l.event === 'link-down'));
    palisade = await startPalisade(data, port);
    await until(() => readOutboxStatus(outboxPath(nodeDir)).backlog === 0);
    // Its log comes through a pipe, after the outbox file shows the backlog gone.
    await until(() => edge.logs.some((l) => l.event === 'link-up'));
    const expected = Array.from({ length: 2 * PER_PHASE }, (_, i) => i);
    for (const device of devices) {
      const points = await call(
        'GET',
        `/v1/devices/${device.id}/telemetry?keys=n&from=0&to=${Date.now()}&limit=1000`,
        key,
      );
      assert.deepEqual(
        points.body.n.map((p: { value: number }) => p.value),
        expected,
      );
    }
  });

  it('each message is in exactly one ledger entry, which opens to its value and names the edge node and batch, in a verified export', async () => {
    const bundle = await exportLedger();
    const verifiers = (await call('GET', '/v1/platform/ledger/keys', ADMIN)).body.keys.map(
      (k: string) => parseVerifierKey(k, nodeVerifyProvider),
    );
    await verifyBundle(nodeHasher, bundle, verifiers);
    const entries = bundle.entries.map((e) => ({
      entry: parseCanonicalJson(e.entry) as {
        actor: string;
        action: string;
        resource: string;
        commitment: string | null;
      },
      salt: e.salt,
    }));
    const batches = entries
      .filter((e) => e.entry.action === 'edge.batch')
      .map((e) => e.entry.resource.split('/').at(-1)!);
    // One entry per device and batch: it opens to that device's messages of the batch (a run
    // of consecutive messages) and the batch's node. Walking the entries in order must open
    // them to messages 0, 1, … exactly once each.
    for (const device of devices) {
      const own = entries.filter((e) => e.entry.resource === `telemetry/${device.id}`);
      let next = 0;
      for (const { entry, salt } of own) {
        assert.equal(entry.actor, `edge-node:${node.nodeId}`);
        const opens: number[] = [];
        for (const batch of batches)
          for (let end = next + 1; end <= 2 * PER_PHASE; end++) {
            const state = {
              device: device.id,
              points: Array.from({ length: end - next }, (_, k) => [
                'n',
                base + next + k,
                'number',
                next + k,
              ]),
              via: { edgeNode: node.nodeId, batch },
            };
            try {
              verifyStateCommitment(nodeSha256, entry.commitment!, fromBase64Url(salt!)!, state);
              opens.push(end);
            } catch {}
          }
        assert.equal(
          opens.length,
          1,
          `the entry after message ${next - 1} of ${device.id} opens once`,
        );
        next = opens[0]!;
      }
      assert.equal(next, 2 * PER_PHASE, `every message of ${device.id} is in one entry`);
    }
  });

  it('batches sent twice and out of order on purpose are applied exactly once', async () => {
    const [device] = devices;
    const batch = (id: string, from: number) => {
      const content = {
        nodeId: node.nodeId,
        batchId: id,
        createdAt: new Date().toISOString(),
        messages: Array.from({ length: 10 }, (_, k) => ({
          deviceId: device!.id,
          payload: { ts: base + from + k, values: { n: from + k } },
          receivedAt: base + from + k,
        })),
      };
      const bytes = Buffer.from(canonicalJson(content), 'utf8');
      return {
        ...content,
        signatures: {
          ed25519: sign(null, bytes, createPrivateKey(node.ed25519)).toString('base64'),
          mldsa65: sign(null, bytes, createPrivateKey(node.mldsa65)).toString('base64'),
        },
      };
    };
    const telemetryEntries = async () =>
      (await exportLedger()).entries.filter(
        (e) =>
          (parseCanonicalJson(e.entry) as { resource: string }).resource ===
          `telemetry/${device!.id}`,
      ).length;
    const before = await telemetryEntries();
    const first = batch('replay-1', 2 * PER_PHASE);
    const second = batch('replay-2', 2 * PER_PHASE + 10);
    const answers = new Map<string, unknown[]>();
    for (const b of [second, first, second, first, second]) {
      const reply = await call('POST', '/v1/edge/batches', node.credential, b);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      answers.set(b.batchId, [...(answers.get(b.batchId) ?? []), reply.body]);
    }
    for (const [, replies] of answers) {
      for (const reply of replies)
        assert.deepEqual(reply, replies[0], 'a replay gets the same answer');
      assert.equal((replies[0] as { applied: number }).applied, 10);
    }
    const points = await call(
      'GET',
      `/v1/devices/${device!.id}/telemetry?keys=n&from=0&to=${Date.now()}&limit=1000`,
      key,
    );
    assert.deepEqual(
      points.body.n.map((p: { value: number }) => p.value),
      Array.from({ length: 2 * PER_PHASE + 20 }, (_, i) => i),
    );
    assert.equal(await telemetryEntries(), before + 2, 'one entry per batch, none twice');
  });

  it("client attributes pass through the edge: merged on the device, ledgered as the node's", async () => {
    const [device] = devices;
    await device!.client!.publishAsync(
      'v1/devices/me/attributes',
      JSON.stringify({ firmware: '2.1', wifi: true }),
      { qos: 1 },
    );
    // A value the platform refuses is refused there by index, after the edge acknowledged it.
    await device!.client!.publishAsync('v1/devices/me/attributes', '{"broken":null}', { qos: 1 });
    // The node's log reaches this process through a pipe, after the outbox file shows the
    // batch synced: wait for both.
    const refused = () =>
      edge.logs
        .filter((l) => l.event === 'synced')
        .flatMap((l) => (l.result as { refused: { code: string }[] }).refused.map((r) => r.code));
    await until(() => readOutboxStatus(outboxPath(nodeDir)).backlog === 0 && refused().length > 0);
    const stored = await call('GET', `/v1/devices/${device!.id}`, key);
    assert.deepEqual(stored.body.clientAttributes, { firmware: '2.1', wifi: true });
    assert.deepEqual(refused(), ['PALISADE_TELEMETRY_INVALID_VALUE']);
    const bundle = await exportLedger();
    const entries = bundle.entries.map((e) => ({
      entry: parseCanonicalJson(e.entry) as { actor: string; resource: string; commitment: string },
      salt: e.salt!,
    }));
    const attributes = entries.filter(
      (e) => e.entry.resource === `devices/${device!.id}/attributes`,
    );
    assert.equal(attributes.length, 1);
    assert.equal(attributes[0]!.entry.actor, `edge-node:${node.nodeId}`);
    const opens = entries
      .filter((e) => e.entry.resource.includes('/batches/'))
      .filter((e) => {
        try {
          verifyStateCommitment(
            nodeSha256,
            attributes[0]!.entry.commitment,
            fromBase64Url(attributes[0]!.salt)!,
            {
              attributes: { firmware: '2.1', wifi: true },
              via: { edgeNode: node.nodeId, batch: e.entry.resource.split('/').at(-1) },
            },
          );
          return true;
        } catch {
          return false;
        }
      });
    assert.equal(opens.length, 1, "the entry opens to the attributes and the node's batch");
  });

  /** The tenant's ledger export; retried while a seal is in progress. */
  async function exportLedger(): Promise<LedgerBundle> {
    for (;;) {
      const reply = await call('GET', '/v1/ledger/export', key);
      if (reply.status === 200) return reply.body as LedgerBundle;
      assert.equal(reply.status, 503, JSON.stringify(reply.body));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
});
