/**
 * Crypto-shredding with roles in separate processes (two platforms on one PostgreSQL
 * database and a real NATS server): deleting a tenant in the API process destroys the data
 * keys another process holds unwrapped at once, not when their cache time runs out, and
 * that process loads (or provisions) the tenant's keys no more.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_TOKEN } from './support/api.ts';
import { scaleOutConfigured } from './support/backends.ts';
import { apiAndIngest } from './support/scale-out.ts';

/** How long the notice may take to arrive, on a loaded machine; only bounds waiting. */
const NOTICE_WAIT_MS = 10_000;

describe('crypto-shredding across processes on postgres and NATS', {
  skip: !scaleOutConfigured(),
}, () => {
  test("another process destroys a deleted tenant's cached keys at once and loads them no more", async (t) => {
    const { api, ingest } = await apiAndIngest(t);

    const { id } = await api.tenant('acme');
    const tenant = (await api.platform.stores.controlPlane.getTenant(id))!;
    const fieldKey = () => ingest.keys.withFieldKeys(tenant, [], (keys) => keys.current);
    const held = await fieldKey();
    assert.equal(held.destroyed, false);

    const deleted = await api.call('DELETE', `/v1/platform/tenants/${id}`, ADMIN_TOKEN);
    assert.equal(deleted.status, 204);
    const deadline = Date.now() + NOTICE_WAIT_MS;
    while (!held.destroyed) {
      assert.ok(Date.now() < deadline, 'the other process destroyed its cached data key');
      await sleep(20);
    }
    await assert.rejects(async () => fieldKey(), { code: 'PALISADE_KEYS_UNAVAILABLE' });
    assert.deepEqual(await api.platform.stores.controlPlane.keys.listKeks(id), []);
  });
});
