/**
 * Creating a tenant is all or nothing: a step that fails after the control-plane row is
 * written (the shard file cannot be made, the shard refuses the tenant's data keys) leaves no
 * tenant, no row of it and no data of it, and the same request made again succeeds with the
 * same slug. The failures are real: on SQLite the shard folder is a file, on PostgreSQL the
 * runtime role may not insert into the shard's data_keys table (so the tenant's ledger
 * genesis is already in the shard when its keys fail).
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { TENANT_CONTROL_TABLES } from '../src/store/tenant-rows.ts';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/** Makes the first shard (where an empty platform places its first tenant) fail, or mends it. */
async function breakFirstShard(api: TestApi, broken: boolean): Promise<void> {
  const { settings } = api.fixture;
  if (settings.database === undefined) {
    const folder = join(settings.data, 'shards', 's1');
    rmSync(folder, { recursive: true, force: true });
    if (broken) writeFileSync(folder, 'not a folder');
    else mkdirSync(folder);
    return;
  }
  const owner = new pg.Client({ connectionString: api.fixture.shardUrls[0] });
  await owner.connect();
  try {
    const role = api.fixture.runtimeRole;
    await owner.query(
      `${broken ? 'REVOKE' : 'GRANT'} INSERT ON data_keys ${broken ? 'FROM' : 'TO'} ${role}`,
    );
  } finally {
    await owner.end();
  }
}

/** The rows of every tenant in the first shard's ledger (PostgreSQL) or its files (SQLite). */
async function firstShardHolds(api: TestApi): Promise<number> {
  const { settings } = api.fixture;
  if (settings.database === undefined) return 0;
  const owner = new pg.Client({ connectionString: api.fixture.shardUrls[0] });
  await owner.connect();
  try {
    // The fixture's shard URL is the superuser's, which row-level security does not bind.
    let n = 0;
    for (const table of ['ledger_entries', 'ledger_batches', 'data_keys']) {
      const rows = await owner.query(
        `SELECT count(*)::int AS n FROM ${table} WHERE tenant_id IS NOT NULL`,
      );
      n += rows.rows[0].n as number;
    }
    return n;
  } finally {
    await owner.end();
  }
}

/** Control-plane rows naming any tenant: the tenants table and every tenant table. */
async function controlPlaneRows(api: TestApi): Promise<number> {
  const { settings } = api.fixture;
  const tables = ['tenants', ...TENANT_CONTROL_TABLES];
  if (settings.database === undefined) {
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(join(settings.data, 'platform.db'), { readOnly: true });
    try {
      let n = 0;
      for (const table of tables)
        n += (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      return n;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: settings.database });
  await client.connect();
  try {
    let n = 0;
    for (const table of tables)
      n += (await client.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
    return n;
  } finally {
    await client.end();
  }
}

for (const backend of backendNames()) {
  describe(`tenant creation on ${backend}`, () => {
    test('a creation that fails part-way leaves nothing, and the same request then succeeds', async (t) => {
      const api = await TestApi.start(backend);
      t.after(() => api.close());
      const request = { slug: 'phoenix', name: 'Phoenix', plan: 'pro' };

      await breakFirstShard(api, true);
      const failed = await api.call('POST', '/v1/platform/tenants', ADMIN_TOKEN, request);

      const list = await api.call('GET', '/v1/platform/tenants', ADMIN_TOKEN);
      assert.deepEqual(list.body.items, [], 'no tenant is listed');
      assert.equal(await controlPlaneRows(api), 0, 'no control-plane row of it is left');
      assert.equal(await firstShardHolds(api), 0, 'the shard keeps nothing of it');
      assert.equal(failed.status, 503, JSON.stringify(failed.body));
      assert.equal(failed.body.code, 'PALISADE_TENANT_NOT_CREATED');

      await breakFirstShard(api, false);
      const created = await api.call('POST', '/v1/platform/tenants', ADMIN_TOKEN, request);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.slug, 'phoenix');
      assert.equal(created.body.shard, 's1', 'the failed attempt did not count against its shard');
      const key = await api.call(
        'POST',
        `/v1/platform/tenants/${created.body.id}/api-keys`,
        ADMIN_TOKEN,
        { name: 'k' },
      );
      assert.equal(key.status, 201);
      // Its keys work: a record with an encrypted field is written.
      const collection = await api.call('PUT', '/v1/collections/people', key.body.secret, {
        schema: PEOPLE_SCHEMA,
        encrypted: ['email'],
      });
      assert.equal(collection.status, 201, JSON.stringify(collection.body));
      const record = await api.call('POST', '/v1/collections/people/records', key.body.secret, {
        name: 'Ada',
        email: 'ada@example.com',
      });
      assert.equal(record.status, 201, JSON.stringify(record.body));
    });
  });
}
