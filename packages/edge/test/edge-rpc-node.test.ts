/**
 * Platform RPC to a device behind an edge node, through the built command and a real
 * platform: a waiting call completes with the device's answer; a persistent request waits
 * while the node is down and is delivered when it is back, also across a restart of the node
 * after it took the request; a request past its deadline is never delivered.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { enrollNode, PlatformLink, runCli, startNode, until } from './support/edge-harness.ts';

const REQUESTS = 'v1/devices/me/rpc/request/+';
const RESPONSE = 'v1/devices/me/rpc/response/';

/** A device that answers every request with `{ done: method }` on the response topic. */
async function answeringDevice(url: string, token: string): Promise<MqttClient> {
  const client = await connectAsync(url, { username: token, reconnectPeriod: 0 });
  client.on('message', (topic, payload) => {
    const id = topic.slice(REQUESTS.length - 1);
    const { method } = JSON.parse(payload.toString()) as { method: string };
    void client.publishAsync(`${RESPONSE}${id}`, JSON.stringify({ done: method }), { qos: 1 });
  });
  await client.subscribeAsync(REQUESTS, { qos: 1 });
  return client;
}

describe('RPC through a running edge node', () => {
  let link: PlatformLink;
  let dir: string;
  let key: string;
  const devices: { id: string; token: string }[] = [];

  const node = () => startNode(dir, ['credentials-refreshed']);
  /** Waits until the platform reports the request in `status`. */
  const reaches = (device: string, id: string, status: string) =>
    until(
      async () =>
        (await link.call('GET', `/v1/devices/${device}/rpc/${id}`, key)).body.status === status,
    );

  before(async () => {
    link = await PlatformLink.start();
    key = (await link.api.tenant('valves')).key;
    dir = mkdtempSync(join(tmpdir(), 'edge-rpc-'));
    const { nodeId } = await enrollNode(link, key, dir);
    for (const name of ['valve', 'absent']) {
      const made = await link.call('POST', '/v1/devices', key, { name, edgeNodeId: nodeId });
      devices.push({ id: made.body.id, token: made.body.credentials.token });
    }
  });
  after(async () => {
    await link.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a persistent request waits while the node is not running and is delivered once it is', async () => {
    const valve = devices[0]!;
    const queued = await link.call('POST', `/v1/devices/${valve.id}/rpc`, key, {
      method: 'close',
      persistent: true,
      timeoutMs: 120_000,
    });
    assert.equal(queued.body.status, 'queued');
    const { edge, mqtt } = await node();
    const client = await answeringDevice(mqtt, valve.token);
    try {
      await reaches(valve.id, queued.body.id, 'succeeded');
      const done = await link.call('GET', `/v1/devices/${valve.id}/rpc/${queued.body.id}`, key);
      assert.deepEqual(done.body.response, { done: 'close' });
    } finally {
      await client.endAsync();
      await edge.stop();
    }
  });

  it('a waiting platform call completes with the answer the device gave the node', async () => {
    const { edge, mqtt } = await node();
    const valve = devices[0]!;
    const client = await answeringDevice(mqtt, valve.token);
    try {
      const reply = await link.call('POST', `/v1/devices/${valve.id}/rpc`, key, {
        method: 'open',
        params: { percent: 30 },
        timeoutMs: 60_000,
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(reply.body.status, 'succeeded');
      assert.deepEqual(reply.body.response, { done: 'open' });
    } finally {
      await client.endAsync();
      await edge.stop();
    }
  });

  it('a request the node confirmed survives a restart of the node before its device connects', async () => {
    const valve = devices[0]!;
    const first = await node();
    let queued: { body: { id: string } };
    try {
      queued = await link.call('POST', `/v1/devices/${valve.id}/rpc`, key, {
        method: 'drain',
        persistent: true,
        timeoutMs: 120_000,
      });
      // Delivered: the node confirmed it, so it holds it.
      await reaches(valve.id, queued.body.id, 'delivered');
    } finally {
      await first.edge.stop();
    }
    const status = await runCli(['status', '--dir', dir, '--json']);
    assert.deepEqual(JSON.parse(status.stdout).rpc, { held: 1, delivered: 0 });
    const { edge, mqtt } = await node();
    const client = await answeringDevice(mqtt, valve.token);
    try {
      await reaches(valve.id, queued.body.id, 'succeeded');
    } finally {
      await client.endAsync();
      await edge.stop();
    }
  });

  it('a request past its deadline is never delivered, even when its device connects later', async () => {
    const absent = devices[1]!;
    const { edge, mqtt } = await node();
    const seen: string[] = [];
    try {
      const late = await link.call('POST', `/v1/devices/${absent.id}/rpc`, key, {
        method: 'late',
        persistent: true,
        timeoutMs: 1500,
      });
      await reaches(absent.id, late.body.id, 'expired');
      const client = await answeringDevice(mqtt, absent.token);
      client.on('message', (_topic, payload) => seen.push(JSON.parse(payload.toString()).method));
      try {
        const next = await link.call('POST', `/v1/devices/${absent.id}/rpc`, key, {
          method: 'next',
          persistent: true,
          timeoutMs: 120_000,
        });
        await reaches(absent.id, next.body.id, 'succeeded');
      } finally {
        await client.endAsync();
      }
    } finally {
      await edge.stop();
    }
    assert.deepEqual(seen, ['next']);
  });
});
