import assert from 'node:assert/strict';
import pg from 'pg';
import { asRole } from '../../src/store/postgres/postgres-shard-store.ts';
import type { TestApi } from './api.ts';

/**
 * Tenants `PREFIX-a` and `PREFIX-b` on one PostgreSQL shard (two shards fill in turn, so a
 * tenant made between them lands on the other), and clients to that shard as its owner and
 * as the runtime role; the caller ends both clients.
 */
export async function tenantsOnOneShard(api: TestApi, prefix: string) {
  const a = await api.tenant(`${prefix}-a`);
  await api.tenant(`${prefix}-other-shard`);
  const b = await api.tenant(`${prefix}-b`);
  const shardId = (await api.platform.stores.controlPlane.getTenant(a.id))!.shard;
  assert.equal((await api.platform.stores.controlPlane.getTenant(b.id))!.shard, shardId);
  const { location } = api.platform.stores.shards.get(shardId)!;
  const owner = new pg.Client({ connectionString: location });
  await owner.connect();
  const runtime = new pg.Client({
    connectionString: asRole(location, api.platform.settings.postgresRuntimeRole),
  });
  await runtime.connect();
  return { a, b, owner, runtime };
}
