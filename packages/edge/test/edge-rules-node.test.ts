/**
 * Local rules through the built command: rules set on a real platform reach the node, shape
 * what devices send over the node's MQTT listener, and fire alerts that are logged and sent
 * first; with the platform stopped and the node restarted, the cached rules still apply and
 * alerts still fire; Prometheus metrics count all of it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import {
  drained,
  enrollNode,
  PlatformLink,
  runCli,
  startNode,
  until,
} from './support/edge-harness.ts';

const TELEMETRY = 'v1/devices/me/telemetry';
const RULES = [
  { kind: 'rename', from: 't', to: 'temperature' },
  { kind: 'scale', key: 'temperature', factor: 2, offset: 1 },
  { kind: 'filter', drop: ['debug'] },
  { kind: 'alert', name: 'hot', key: 'temperature', above: 100 },
];
const METRICS = ['--metrics', '127.0.0.1:0'];

/** Points of `key` the platform holds for the device, oldest first. */
async function points(link: PlatformLink, apiKey: string, device: string, key: string) {
  const reply = await link.call(
    'GET',
    `/v1/devices/${device}/telemetry?keys=${key}&from=0&to=${Date.now() + 60_000}&limit=1000`,
    apiKey,
  );
  return ((reply.body[key] ?? []) as { value: unknown }[]).map((p) => p.value);
}

describe('edge rules on a running node', () => {
  let link: PlatformLink;
  let dir: string;
  let key: string;
  let device: { id: string; token: string };

  before(async () => {
    link = await PlatformLink.start();
    key = (await link.api.tenant('ovens')).key;
    dir = mkdtempSync(join(tmpdir(), 'edge-rules-'));
    const { nodeId } = await enrollNode(link, key, dir);
    const made = await link.call('POST', '/v1/devices', key, {
      name: 'oven-1',
      type: 'oven',
      edgeNodeId: nodeId,
    });
    device = { id: made.body.id, token: made.body.credentials.token };
    const put = await link.call('PUT', '/v1/edge-rules/oven', key, { rules: RULES });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  });
  after(async () => {
    await link.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shapes telemetry, fires an alert that is logged and sent, and counts it', async () => {
    const { edge, mqtt, started } = await startNode(
      dir,
      ['rules-updated', 'credentials-refreshed'],
      METRICS,
    );
    try {
      const client: MqttClient = await connectAsync(mqtt, {
        username: device.token,
        reconnectPeriod: 0,
      });
      await client.publishAsync(TELEMETRY, JSON.stringify({ t: 20, debug: 'x' }), { qos: 1 });
      await client.publishAsync(TELEMETRY, JSON.stringify({ t: 60 }), { qos: 1 });
      await client.endAsync();
      await until(drained(dir));
      assert.deepEqual(await points(link, key, device.id, 'temperature'), [41, 121]);
      assert.deepEqual(await points(link, key, device.id, 'debug'), []);
      assert.deepEqual(await points(link, key, device.id, 't'), []);
      assert.deepEqual(await points(link, key, device.id, 'alert.hot'), [
        { state: 'firing', key: 'temperature', value: 121, above: 100 },
      ]);
      await until(() => edge.logs.some((l) => l.event === 'alert'));
      const alert = edge.logs.find((l) => l.event === 'alert');
      assert.equal(alert?.device, device.id);
      assert.equal(alert?.state, 'firing');
      const text = await (await fetch(started.metrics!)).text();
      const status = JSON.parse((await runCli(['status', '--dir', dir, '--json'])).stdout);
      assert.equal(status.rules.ruleSets, 1);
      assert.equal(status.rules.devices, 1);
      for (const line of [
        'palisade_edge_rule_alerts_total{alert="hot",state="firing"} 1',
        'palisade_edge_messages_accepted_total{kind="telemetry"} 2',
        'palisade_edge_messages_accepted_total{kind="alert"} 1',
        'palisade_edge_backlog_messages 0',
        'palisade_edge_rule_sets 1',
      ])
        assert.ok(text.includes(line), `${line} in\n${text}`);
    } finally {
      await edge.stop();
    }
  });

  it('with the platform stopped, a restarted node applies its cached rules and still alerts', async () => {
    await link.stopPlatform();
    const { edge, mqtt, started } = await startNode(dir, ['rules-stale'], METRICS);
    assert.notEqual(started.rules, null, 'rules from the cache');
    try {
      const client = await connectAsync(mqtt, { username: device.token, reconnectPeriod: 0 });
      await client.publishAsync(TELEMETRY, JSON.stringify({ t: 70 }), { qos: 1 });
      await client.publishAsync(TELEMETRY, JSON.stringify({ t: 10 }), { qos: 1 });
      await client.endAsync();
      // Alert state lives in memory: after a restart the first crossing fires again.
      await until(() => edge.logs.filter((l) => l.event === 'alert').length >= 2);
      const alerts = edge.logs.filter((l) => l.event === 'alert').map((l) => [l.state, l.value]);
      assert.deepEqual(alerts, [
        ['firing', 141],
        ['cleared', 21],
      ]);
      await link.restartPlatform();
      await until(drained(dir));
    } finally {
      await edge.stop();
    }
    assert.deepEqual(await points(link, key, device.id, 'temperature'), [41, 121, 141, 21]);
    const states = (await points(link, key, device.id, 'alert.hot')).map(
      (v) => (v as { state: string }).state,
    );
    assert.deepEqual(states, ['firing', 'firing', 'cleared']);
  });
});
