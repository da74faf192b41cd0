/**
 * Shared attributes pushed to devices behind a running edge node, with MQTT.js as the devices
 * and a real platform: a device hears its current shared attributes when it subscribes, then
 * each change the tenant makes (`PATCH /v1/devices/{id}`) as the platform would push it (keys
 * set or changed, then `{"deleted": [...]}`); only its own, never another device's or another
 * tenant's; and one connecting while the platform is unreachable, or after changes made while
 * its node was down, converges on what the platform holds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { backendNames } from '../../server/test/support/backends.ts';
import { attributeNodes, type PlatformLink, until } from './support/edge-harness.ts';

const ATTRIBUTES = 'v1/devices/me/attributes';

/** A device connected to a node and subscribed to its attributes, with what it heard. */
async function subscribedDevice(url: string, token: string) {
  const client: MqttClient = await connectAsync(url, { username: token, reconnectPeriod: 0 });
  const heard: unknown[] = [];
  client.on('message', (topic, payload) => {
    assert.equal(topic, ATTRIBUTES);
    heard.push(JSON.parse(payload.toString()));
  });
  await client.subscribeAsync(ATTRIBUTES, { qos: 1 });
  /** Waits until it heard `count` pushes in all, and returns them. */
  const hears = async (count: number) => {
    await until(() => heard.length >= count);
    return heard;
  };
  /** Waits until what it heard, applied in order, makes `attributes`. */
  const holds = (attributes: Record<string, unknown>) =>
    until(() => isDeepStrictEqual(applied(heard), attributes));
  return { client, heard, hears, holds };
}

/** The attributes a device holds after applying `pushes` in order. */
function applied(pushes: readonly unknown[]): Record<string, unknown> {
  const held: Record<string, unknown> = {};
  for (const push of pushes as Record<string, unknown>[]) {
    if (Array.isArray(push.deleted)) for (const name of push.deleted) delete held[name];
    else Object.assign(held, push);
  }
  return held;
}

for (const backend of backendNames()) {
  describe(`shared attributes of devices behind an edge node, on ${backend}`, () => {
    let nodes: Awaited<ReturnType<typeof attributeNodes>>;
    let link: PlatformLink;
    let key: string;
    let dir: string;
    let dirB: string;
    let made: Record<string, { id: string; token: string }>;
    const node = (at: string, ready?: string[]) => nodes.node(at, ready);
    const patch = async (name: string, attributes: Record<string, unknown>, as = key) => {
      const reply = await link.call('PATCH', `/v1/devices/${made[name]?.id}`, as, { attributes });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
    };

    before(async () => {
      nodes = await attributeNodes(backend, 'edge-shared');
      ({ link, key, dir, dirB, made } = nodes);
    });
    after(() => nodes.close());

    it('a device hears its attributes when it subscribes, then each change; only its own', async () => {
      const ada = await node(dir);
      const bob = await node(dirB);
      const thermo = await subscribedDevice(ada.mqtt, made.thermo?.token ?? '');
      const lamp = await subscribedDevice(ada.mqtt, made.lamp?.token ?? '');
      const theirs = await subscribedDevice(bob.mqtt, made.theirs?.token ?? '');
      try {
        assert.deepEqual(await thermo.hears(1), [{ target: 21, mode: 'eco' }]);
        assert.deepEqual(await lamp.hears(1), [{ on: false }]);
        assert.deepEqual(await theirs.hears(1), [{ secret: 'b' }]);

        await patch('thermo', { target: 22, mode: 'eco', fan: 'auto' });
        assert.deepEqual((await thermo.hears(2))[1], { target: 22, fan: 'auto' });
        await patch('thermo', { target: 22 });
        const deleted = (await thermo.hears(3))[2] as { deleted: string[] };
        assert.deepEqual(deleted.deleted.toSorted(), ['fan', 'mode']);
        await patch('lamp', { on: true });
        assert.deepEqual((await lamp.hears(2))[1], { on: true });

        assert.equal(thermo.heard.length, 3, 'the lamp changing told the thermostat nothing');
        assert.deepEqual(theirs.heard, [{ secret: 'b' }], "tenant A's changes never reach B");
      } finally {
        await Promise.all([thermo, lamp, theirs].map((d) => d.client.endAsync()));
        await ada.edge.stop();
        await bob.edge.stop();
      }
    });

    it('a device converges on changes made while its node was down, even offline at first', async () => {
      await patch('thermo', { target: 23 });
      await link.stopPlatform();
      const offline = await node(dir, []);
      const thermo = await subscribedDevice(offline.mqtt, made.thermo?.token ?? '');
      try {
        assert.deepEqual(
          await thermo.hears(1),
          [{ target: 22 }],
          'served from the copy while the platform is unreachable',
        );
        await link.restartPlatform();
        assert.deepEqual((await thermo.hears(2))[1], { target: 23 });

        await patch('lamp', { on: true, level: 3 });
        const lamp = await subscribedDevice(offline.mqtt, made.lamp?.token ?? '');
        try {
          await lamp.holds({ on: true, level: 3 });
        } finally {
          await lamp.client.endAsync();
        }
      } finally {
        await thermo.client.endAsync();
        await offline.edge.stop();
      }
    });
  });
}
