/**
 * Creating a tenant is all or nothing: a step that fails after the control-plane row is
 * written (the shard file cannot be made, the shard refuses the tenant's data keys) leaves no
 * tenant, no row of it and no data of it, and the same request made again succeeds with the
 * same slug. The failures are real: on SQLite the shard folder is a file, on PostgreSQL the
 * runtime role may not insert into the shard's data_keys table (so the tenant's ledger
 * genesis is already in the shard when its keys fail).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { TENANT_CONTROL_TABLES } from '../src/store/tenant-rows.ts';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, TestApi } from './support/api.ts';
import { type BackendFixture, backendNames, openBackend } from './support/backends.ts';
import { controlPlaneSql } from './support/control-plane-sql.ts';
import { startPlatformProcess } from './support/platform-process.ts';

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

/**
 * What every shard holds of any tenant: ledger and key rows (PostgreSQL), files but the
 * tombstones of dropped tenants (SQLite).
 */
async function shardsHold(fixture: BackendFixture): Promise<number> {
  const { settings } = fixture;
  if (settings.database === undefined) {
    const shards = join(settings.data, 'shards');
    let files = 0;
    for (const shard of readdirSync(shards, { withFileTypes: true }))
      if (shard.isDirectory())
        files += readdirSync(join(shards, shard.name)).filter(
          (f) => !f.endsWith('.dropped'),
        ).length;
    return files;
  }
  let n = 0;
  for (const url of fixture.shardUrls) {
    const owner = new pg.Client({ connectionString: url });
    await owner.connect();
    try {
      // The fixture's shard URL is the superuser's, which row-level security does not bind.
      for (const table of ['ledger_entries', 'ledger_batches', 'data_keys']) {
        const rows = await owner.query(
          `SELECT count(*)::int AS n FROM ${table} WHERE tenant_id IS NOT NULL`,
        );
        n += rows.rows[0].n as number;
      }
    } finally {
      await owner.end();
    }
  }
  return n;
}

/**
 * Control-plane rows naming any tenant but `except`: the tenants table, every tenant table,
 * creations.
 */
async function controlPlaneRows(fixture: BackendFixture, except = ''): Promise<number> {
  const { settings } = fixture;
  const tables = ['tenant_creations', ...TENANT_CONTROL_TABLES];
  const queries = [
    'SELECT count(*) AS n FROM tenants WHERE CAST(id AS text) <> $1',
    ...tables.map(
      (table) => `SELECT count(*) AS n FROM ${table} WHERE CAST(tenant_id AS text) <> $1`,
    ),
  ];
  let n = 0;
  for (const query of queries)
    n += Number((await controlPlaneSql(settings, query, [except]))[0]?.n);
  return n;
}

/** The request an admin sends (which a killed process never answers). */
const PHOENIX = { slug: 'phoenix', name: 'Phoenix', plan: 'pro' };

/** The same slug is created afresh, and its key writes an encrypted field. */
async function createsAfresh(api: TestApi): Promise<string> {
  const created = await api.call('POST', '/v1/platform/tenants', ADMIN_TOKEN, PHOENIX);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const key = await api.call(
    'POST',
    `/v1/platform/tenants/${created.body.id}/api-keys`,
    ADMIN_TOKEN,
    { name: 'k' },
  );
  assert.equal(key.status, 201);
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
  return created.body.id;
}

for (const backend of backendNames()) {
  describe(`tenant creation on ${backend}`, () => {
    test('a creation that fails part-way leaves nothing, and the same request then succeeds', async (t) => {
      const api = await TestApi.start(backend);
      t.after(() => api.close());

      await breakFirstShard(api, true);
      const failed = await api.call('POST', '/v1/platform/tenants', ADMIN_TOKEN, PHOENIX);

      const list = await api.call('GET', '/v1/platform/tenants', ADMIN_TOKEN);
      assert.deepEqual(list.body.items, [], 'no tenant is listed');
      assert.equal(await controlPlaneRows(api.fixture), 0, 'no control-plane row of it is left');
      assert.equal(await shardsHold(api.fixture), 0, 'the shard keeps nothing of it');
      assert.equal(failed.status, 503, JSON.stringify(failed.body));
      assert.equal(failed.body.code, 'PALISADE_TENANT_NOT_CREATED');

      await breakFirstShard(api, false);
      const id = await createsAfresh(api);
      const created = await api.call('GET', `/v1/platform/tenants/${id}`, ADMIN_TOKEN);
      assert.equal(created.body.shard, 's1', 'the failed attempt did not count against its shard');
    });
  });
}

/**
 * A `palisade start` process stopped at `text` in tenant-admin.ts while it creates PHOENIX,
 * then SIGKILLed there: the request is never answered.
 */
async function killMidCreation(
  fixture: BackendFixture,
  text: string,
  meanwhile: () => Promise<void> = async () => undefined,
): Promise<void> {
  const server = await startPlatformProcess(fixture, { adminToken: ADMIN_TOKEN, inspect: true });
  try {
    const { reached } = await server.pauseAt('control/tenant-admin.ts', text);
    const answer = fetch(`${server.url}/v1/platform/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(PHOENIX),
    }).catch(() => 'killed');
    await reached;
    await meanwhile();
    await server.kill();
    assert.equal(await answer, 'killed', 'the creation was stopped before it answered');
  } finally {
    await server.kill();
  }
}

for (const backend of backendNames()) {
  describe(`tenant creation killed part-way on ${backend}`, () => {
    test('a process killed after the genesis, before the keys, leaves nothing once restarted', async (t) => {
      const fixture = await openBackend(backend, { adminToken: ADMIN_TOKEN });
      let api: TestApi | undefined;
      t.after(async () => (api === undefined ? fixture.cleanup() : api.close()));
      await killMidCreation(fixture, 'await this.#keys?.provision(tenant)');

      api = await TestApi.restart(fixture);
      const list = await api.call('GET', '/v1/platform/tenants', ADMIN_TOKEN);
      assert.deepEqual(list.body.items, [], 'no tenant is listed');
      assert.equal(await controlPlaneRows(fixture), 0, 'no control-plane row of it is left');
      assert.equal(await shardsHold(fixture), 0, 'no shard keeps anything of it');
      await createsAfresh(api);
    });
  });
}

describe('tenant creation killed part-way, with another process running', () => {
  test('on postgres, the other process leaves a live creation alone and takes back a dead one for its slug', {
    skip: !backendNames().includes('postgres'),
  }, async (t) => {
    const fixture = await openBackend('postgres', { adminToken: ADMIN_TOKEN });
    // The other process shares the stores but has a data folder of its own.
    const other = {
      ...fixture,
      settings: { ...fixture.settings, data: mkdtempSync(join(tmpdir(), 'palisade-other-')) },
    };
    const api = await TestApi.restart(other);
    t.after(async () => {
      await api.close();
      rmSync(other.settings.data, { recursive: true, force: true });
    });
    t.after(() => fixture.cleanup());

    await killMidCreation(fixture, "await this.#audit(tenant, 'tenant.create'", async () => {
      const refused = await api.call('POST', '/v1/platform/tenants', ADMIN_TOKEN, PHOENIX);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.code, 'PALISADE_SLUG_TAKEN');
    });

    const id = await createsAfresh(api);
    const list = await api.call('GET', '/v1/platform/tenants', ADMIN_TOKEN);
    assert.deepEqual(
      list.body.items.map((tenant: { id: string }) => tenant.id),
      [id],
      'only the new tenant is listed',
    );
    assert.equal(await controlPlaneRows(fixture, id), 0, 'no other tenant has a row left');
  });
});
