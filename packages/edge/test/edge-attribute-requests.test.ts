/**
 * Attribute requests at an edge node, with MQTT.js as the devices and a real platform: a
 * device asks on `v1/devices/me/attributes/request/{id}` and hears on
 * `…/attributes/response/{id}` its client attributes as it reported them through the node
 * and its shared ones from the node's copy, picked by `clientKeys`/`sharedKeys` as the
 * platform picks them; only its own, never another device's or another tenant's; also while
 * the platform is unreachable and across a restart of the node. A request that is not JSON
 * or names keys that are not a string closes the connection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { backendNames } from '../../server/test/support/backends.ts';
import { attributeNodes, drained, type PlatformLink, until } from './support/edge-harness.ts';

const ATTRIBUTES = 'v1/devices/me/attributes';

/** A device connected to a node, subscribed to its attribute answers and shared attributes. */
async function askingDevice(url: string, token: string) {
  const client: MqttClient = await connectAsync(url, { username: token, reconnectPeriod: 0 });
  const answers = new Map<string, unknown>();
  const pushes: unknown[] = [];
  client.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString());
    if (topic === ATTRIBUTES) pushes.push(body);
    else answers.set(topic.slice(`${ATTRIBUTES}/response/`.length), body);
  });
  await client.subscribeAsync([`${ATTRIBUTES}/response/+`, ATTRIBUTES], { qos: 1 });
  let next = 0;
  /** Sends `request` under a new id and waits for its answer. */
  const ask = async (request: unknown) => {
    const id = String(++next);
    await client.publishAsync(`${ATTRIBUTES}/request/${id}`, JSON.stringify(request), { qos: 1 });
    await until(() => answers.has(id));
    return answers.get(id);
  };
  /** Waits until the node pushed the device its shared attributes once. */
  const pushed = () => until(() => pushes.length > 0);
  return { client, ask, pushed };
}

for (const backend of backendNames()) {
  describe(`attribute requests at an edge node, on ${backend}`, () => {
    let nodes: Awaited<ReturnType<typeof attributeNodes>>;
    let link: PlatformLink;
    let key: string;
    let dir: string;
    let dirB: string;
    let made: Record<string, { id: string; token: string }>;
    const node = (at: string, ready?: string[]) => nodes.node(at, ready);

    before(async () => {
      nodes = await attributeNodes(backend, 'edge-attr-req');
      ({ link, key, dir, dirB, made } = nodes);
    });
    after(() => nodes.close());

    it('a device hears its own client and shared attributes, picked by key', async () => {
      const ada = await node(dir);
      const bob = await node(dirB);
      const thermo = await askingDevice(ada.mqtt, made.thermo?.token ?? '');
      const lamp = await askingDevice(ada.mqtt, made.lamp?.token ?? '');
      const theirs = await askingDevice(bob.mqtt, made.theirs?.token ?? '');
      try {
        await Promise.all([thermo.pushed(), lamp.pushed(), theirs.pushed()]);
        await thermo.client.publishAsync(ATTRIBUTES, JSON.stringify({ fw: '1.0', model: 't1' }), {
          qos: 1,
        });
        assert.deepEqual(await thermo.ask({}), {
          client: { fw: '1.0', model: 't1' },
          shared: { target: 21, mode: 'eco' },
        });
        assert.deepEqual(await thermo.ask({ clientKeys: 'fw', sharedKeys: 'target, absent' }), {
          client: { fw: '1.0' },
          shared: { target: 21 },
        });
        assert.deepEqual(await thermo.ask({ sharedKeys: 'mode' }), { shared: { mode: 'eco' } });
        assert.deepEqual(
          await lamp.ask({}),
          { client: {}, shared: { on: false } },
          "the thermostat's attributes are not the lamp's",
        );
        assert.deepEqual(
          await theirs.ask({}),
          { client: {}, shared: { secret: 'b' } },
          "tenant B's device hears only its own",
        );
        await until(drained(dir));
        const stored = await link.call('GET', `/v1/devices/${made.thermo?.id}`, key);
        assert.deepEqual(stored.body.clientAttributes, { fw: '1.0', model: 't1' });
      } finally {
        await Promise.all([thermo, lamp, theirs].map((d) => d.client.endAsync()));
        await ada.edge.stop();
        await bob.edge.stop();
      }
    });

    it('the node answers while the platform is unreachable, across its restart', async () => {
      await link.stopPlatform();
      const offline = await node(dir, []);
      const thermo = await askingDevice(offline.mqtt, made.thermo?.token ?? '');
      try {
        assert.deepEqual(await thermo.ask({}), {
          client: { fw: '1.0', model: 't1' },
          shared: { target: 21, mode: 'eco' },
        });
        await thermo.client.publishAsync(ATTRIBUTES, JSON.stringify({ fw: '1.1' }), { qos: 1 });
        assert.deepEqual(await thermo.ask({ clientKeys: 'fw,model' }), {
          client: { fw: '1.1', model: 't1' },
        });
      } finally {
        await thermo.client.endAsync();
        await offline.edge.stop();
      }
      await link.restartPlatform();
    });

    for (const [what, payload] of [
      ['not JSON', 'fw'],
      ['keys that are not a string', JSON.stringify({ clientKeys: ['fw'] })],
    ] as const)
      it(`a request that is ${what} closes the connection, unanswered`, async () => {
        const ada = await node(dir);
        const client = await connectAsync(ada.mqtt, {
          username: made.thermo?.token ?? '',
          reconnectPeriod: 0,
        });
        let answered = false;
        client.on('message', () => {
          answered = true;
        });
        try {
          await client.subscribeAsync(`${ATTRIBUTES}/response/+`, { qos: 1 });
          const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
          client.publish(`${ATTRIBUTES}/request/7`, payload, { qos: 1 });
          await closed;
          assert.equal(answered, false);
          await until(() =>
            ada.edge.logs.some(
              (l) => l.event === 'device-refused' && l.reason === 'invalid_payload',
            ),
          );
        } finally {
          client.end(true);
          await ada.edge.stop();
        }
      });
  });
}
