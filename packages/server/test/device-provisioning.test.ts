/**
 * Device self-provisioning on each backend: a single-use key registers one device, however
 * many race for it, and a registration that does not happen does not use the key up.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

const RACERS = 8;

for (const backend of backendNames()) {
  describe(`device provisioning on ${backend}`, () => {
    let api: TestApi;
    let t: { id: string; key: string };

    const issue = async (): Promise<string> => {
      const issued = await api.call('POST', '/v1/provisioning-keys', t.key);
      assert.equal(issued.status, 201, JSON.stringify(issued.body));
      return issued.body.key;
    };
    const provision = (key: string, deviceName: string) =>
      api.call('POST', '/api/v1/provision', undefined, { deviceName, provisionDeviceKey: key });

    before(async () => {
      api = await TestApi.start(backend);
      t = await api.tenant('provisioning');
    });
    after(() => api.close());

    it('devices racing for one key: exactly one registers', async () => {
      const key = await issue();
      const replies = await Promise.all(
        Array.from({ length: RACERS }, (_, i) => provision(key, `racer-${i}`)),
      );
      assert.deepEqual(
        replies.map((r) => r.status).sort(),
        [201, ...Array(RACERS - 1).fill(401)],
        JSON.stringify(replies.map((r) => r.body)),
      );
    });

    it('a name already taken refuses the device but leaves the key for its next attempt', async () => {
      assert.equal((await api.call('POST', '/v1/devices', t.key, { name: 'taken' })).status, 201);
      const key = await issue();
      const clash = await provision(key, 'taken');
      assert.equal(clash.body.code, 'PALISADE_DEVICE_NAME_TAKEN', JSON.stringify(clash.body));
      const retried = await provision(key, 'not-taken');
      assert.equal(retried.status, 201, JSON.stringify(retried.body));
      assert.equal((await provision(key, 'third')).body.code, 'PALISADE_DEVICE_UNAUTHENTICATED');
    });

    it('a suspended tenant registers nothing, and its key works once it is resumed', async () => {
      const key = await issue();
      const status = (s: string) =>
        api.call('PATCH', `/v1/platform/tenants/${t.id}`, ADMIN_TOKEN, { status: s });
      assert.equal((await status('suspended')).status, 200);
      const refused = await provision(key, 'while-suspended');
      assert.equal(refused.body.code, 'PALISADE_DEVICE_UNAUTHENTICATED');
      assert.equal((await status('active')).status, 200);
      const resumed = await provision(key, 'after-resume');
      assert.equal(resumed.status, 201, JSON.stringify(resumed.body));
    });
  });
}
