/**
 * A write another API process accepted just before a tenant's deletion, and commits after it,
 * leaves nothing of the deleted tenant in its shard: the writing process is answered
 * PALISADE_TENANT_DELETED (409) instead, whether or not the deletion's notice has reached it.
 * B's write is held, after authentication and with the tenant's store in hand, by a promise
 * until A's deletion has answered.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ShardStore, TenantStore } from '../src/store/index.ts';
import { ADMIN_TOKEN, PEOPLE_SCHEMA } from './support/api.ts';
import { scaleOutConfigured } from './support/backends.ts';
import { twoApiPlatforms } from './support/oidc-platform.ts';
import { tenantLeftovers } from './support/tenant-leftovers.ts';

/**
 * Holds the next write transaction of `tenantId` through `shard` until `release`; `reached`
 * resolves when it is held. Stores of other tenants, and reads, pass untouched.
 */
function holdNextWrite(shard: ShardStore, tenantId: string) {
  const { promise: reached, resolve: arrived } = Promise.withResolvers<void>();
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const tenant = shard.tenant.bind(shard);
  let armed = true;
  shard.tenant = async (id) => {
    const store = await tenant(id);
    if (id !== tenantId) return store;
    const held: TenantStore = {
      tenantId: store.tenantId,
      get reader() {
        return store.reader;
      },
      transaction: async (work) => {
        if (armed) {
          armed = false;
          arrived();
          await released;
        }
        return store.transaction(work);
      },
    };
    return held;
  };
  return { reached, release };
}

describe('a tenant deleted while another API process writes it, on postgres and NATS', {
  skip: !scaleOutConfigured(),
}, () => {
  test('the write held across the deletion is refused, and nothing of the tenant is left', async (t) => {
    const { a, b } = await twoApiPlatforms(t);
    const victim = await a.tenant('victim');
    const made = await a.call('PUT', '/v1/collections/people', victim.key, {
      schema: PEOPLE_SCHEMA,
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    // A write that reads nothing the deletion removed first: a new collection.
    const shardId = (await a.platform.stores.controlPlane.getTenant(victim.id))!.shard;
    const shard = b.stores.shards.get(shardId)!;
    const { reached, release } = holdNextWrite(shard, victim.id);

    const write = b.http.inject({
      method: 'PUT',
      url: '/v1/collections/written-after-the-deletion',
      headers: { authorization: `Bearer ${victim.key}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ schema: PEOPLE_SCHEMA }),
    });
    await reached;
    const deleted = await a.call('DELETE', `/v1/platform/tenants/${victim.id}`, ADMIN_TOKEN);
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    release();

    const reply = await write;
    assert.equal(reply.statusCode, 409, reply.body);
    assert.equal(reply.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(JSON.parse(reply.body).code, 'PALISADE_TENANT_DELETED');
    assert.deepEqual(await tenantLeftovers(shard.location, victim.id), []);
  });
});
