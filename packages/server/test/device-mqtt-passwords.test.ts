/**
 * MQTT user name + password: a CONNECT pays one scrypt verification at the cost of a real
 * hash whether or not the user name exists or its client id matches, so the answer's timing
 * does not tell which user names are registered. Counted through an injected verifier (not
 * timed), against the real control-plane index on each backend.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeviceAuthority, verifyPassword } from '../src/devices/index.ts';
import { storeLocator } from '../src/records/index.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/** `scrypt$N$r$p$…`: the parameters that set a verification's cost. */
const cost = (stored: string) => stored.split('$').slice(0, 4).join('$');

for (const backend of backendNames()) {
  describe(`MQTT password checks cost the same for unknown user names (${backend})`, () => {
    let api: TestApi;
    let authority: DeviceAuthority;
    const checked: string[] = [];

    before(async () => {
      api = await TestApi.start(backend);
      const t = await api.tenant('mqtt-passwords');
      const device = await api.call('POST', '/v1/devices', t.key, { name: 'pump' });
      for (const [username, clientId] of [
        ['pump-user', undefined],
        ['pinned-user', 'pinned-client'],
      ]) {
        const added = await api.call('POST', `/v1/devices/${device.body.id}/credentials`, t.key, {
          type: 'mqtt_basic',
          username,
          password: 'correct horse battery',
          ...(clientId === undefined ? {} : { clientId }),
        });
        assert.equal(added.status, 201, JSON.stringify(added.body));
      }
      const { stores, devices } = api.platform;
      authority = new DeviceAuthority(
        stores.controlPlane.devices,
        storeLocator(stores.shards),
        devices.registry,
        { ttlMs: 0, foundMax: 100, missingMax: 100 },
        (password, stored) => {
          checked.push(stored);
          return verifyPassword(password, stored);
        },
      );
    });
    after(() => api.close());

    it('an unknown user name, a wrong client id and a wrong password each run one verification', async () => {
      const known = await authority.byMqttCredentials('c1', 'pump-user', 'correct horse battery');
      assert.equal(known?.deviceName, 'pump');
      assert.equal(checked.length, 1);
      const real = checked[0]!;
      const refusals: Array<[string, string, string]> = [
        ['c1', 'nobody-by-this-name', 'correct horse battery'],
        ['c1', 'pump-user', 'wrong password'],
        ['another-client', 'pinned-user', 'correct horse battery'],
      ];
      for (const [clientId, username, password] of refusals) {
        checked.length = 0;
        const refused = await authority.byMqttCredentials(clientId, username, password);
        assert.equal(refused, undefined, username);
        assert.equal(checked.length, 1, `${username}: one verification`);
        assert.equal(cost(checked[0]!), cost(real), `${username}: at a real hash's cost`);
      }
    });
  });
}
