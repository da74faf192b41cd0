/**
 * A platform seal that read a tenant's control-plane row just before the tenant was deleted
 * does not bring the deleted tenant's data back: on SQLite, opening its file again after the
 * deletion removed it recreated it, empty and migrated, in the shard folder. The interleaving
 * is made exact by a control plane that deletes the tenant (through the real API) while the
 * sealer's read of its row is in flight, and answers the row as it was read.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { nodeHasher } from '@palisade/ledger/node';
import pino from 'pino';
import { loadLedgerKeys, PlatformSealer, WitnessPool } from '../src/ledger/index.ts';
import type { ControlPlaneStore, Stores } from '../src/store/index.ts';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/** The stores, but reading `victim`'s row deletes it first and answers the row read before. */
function deletingWhileRead(api: TestApi, victim: string): Stores {
  const { stores } = api.platform;
  const controlPlane = new Proxy(stores.controlPlane, {
    get(target, property, receiver) {
      if (property !== 'getTenant') return Reflect.get(target, property, receiver);
      return async (id: string) => {
        const row = await target.getTenant(id);
        if (id !== victim) return row;
        const deleted = await api.call('DELETE', `/v1/platform/tenants/${id}`, ADMIN_TOKEN);
        assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
        return row;
      };
    },
  }) satisfies ControlPlaneStore;
  return { ...stores, controlPlane };
}

for (const backend of backendNames()) {
  describe(`a platform seal racing a tenant deletion on ${backend}`, () => {
    test('the deleted tenant stays deleted: no file or row of it comes back, other tenants are sealed', async (t) => {
      const api = await TestApi.start(backend);
      t.after(() => api.close());
      const kept = await api.tenant('kept');
      const victim = await api.tenant('victim');
      const { settings } = api.fixture;
      const sealer = new PlatformSealer({
        stores: deletingWhileRead(api, victim.id),
        keys: loadLedgerKeys(join(settings.data, 'ledger-signing.json'), undefined).keys,
        witnesses: new WitnessPool(
          [],
          nodeHasher,
          api.platform.stores.platformLog,
          pino({ level: 'silent' }),
        ),
        intervalMs: 60_000,
        logger: pino({ level: 'silent' }),
      });
      // The kept tenant first, so the seal still has work once the victim is skipped.
      sealer.markDirty(kept.id);
      sealer.markDirty(victim.id);
      const sealed = await sealer.seal();

      const gone = await api.call('GET', `/v1/platform/tenants/${victim.id}`, ADMIN_TOKEN);
      assert.equal(gone.body.status, 'deleted');
      if (settings.database === undefined) {
        const file = join(settings.data, 'shards', gone.body.shard, `${victim.id}.db`);
        assert.equal(existsSync(file), false, 'the deleted tenant file was not recreated');
      }
      const reopened = await api.platform.stores.platformLog.latestTenantCheckpoint(kept.id);
      assert.ok(sealed !== undefined && reopened !== undefined, 'the kept tenant was sealed');
      assert.equal(
        await api.platform.stores.platformLog.latestTenantCheckpoint(victim.id),
        undefined,
        'nothing of the deleted tenant was sealed',
      );
    });
  });
}
