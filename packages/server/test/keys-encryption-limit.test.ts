/**
 * The bound on encryptions per data key version (AES-GCM with random nonces, NIST SP 800-38D:
 * at most 2^32 per key), on every backend, with a small `dataKeyRotateEncryptions` and blocks of
 * one so that counts are exact: a version that reaches the threshold gives way to a new one
 * (a ledger entry) that new writes use; the count outlives the process; two processes on one
 * PostgreSQL add up; a re-encryption job counts too; and a version at the hard bound refuses.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { type Platform, startPlatform } from '../src/index.ts';
import { GCM_RANDOM_IV_LIMIT } from '../src/keys/encryption-budget.ts';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { type BackendFixture, backendNames } from './support/backends.ts';

/** How long a background rotation or job may take. */
const WAIT_MS = 10_000;
const LIMITS = { dataKeyRotateEncryptions: '3', dataKeyEncryptionBlock: '1' };
const SCHEMA = { type: 'object', properties: { s: { type: 'string' } } };

interface FieldKey {
  version: number;
  records: number;
  encryptions: number;
}

async function fieldKeys(http: Platform['http'], key: string): Promise<FieldKey[]> {
  const reply = await http.inject({
    method: 'GET',
    url: '/v1/keys',
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(reply.statusCode, 200, reply.body);
  return (reply.json().dataKeys as (FieldKey & { keyId: string })[])
    .filter((k) => k.keyId === 'fields')
    .map(({ version, records, encryptions }) => ({ version, records, encryptions }));
}

async function create(http: Platform['http'], key: string, s: string) {
  return http.inject({
    method: 'POST',
    url: '/v1/collections/vault/records',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ s }),
  });
}

async function waitForVersion(http: Platform['http'], key: string, version: number) {
  const deadline = Date.now() + WAIT_MS;
  while (!(await fieldKeys(http, key)).some((k) => k.version === version)) {
    assert.ok(Date.now() < deadline, `field key version ${version} started`);
    await sleep(20);
  }
}

/** Sets a field key version's stored count, as the store's owner would. */
async function setEncryptions(
  fixture: BackendFixture,
  tenant: { id: string; shard: string },
  version: number,
  encryptions: number,
): Promise<void> {
  if (fixture.name === 'sqlite') {
    const path = join(fixture.settings.data, 'shards', tenant.shard, `${tenant.id}.db`);
    const db = new DatabaseSync(path, { timeout: 5000 });
    try {
      db.prepare(
        "UPDATE data_keys SET encryptions = ? WHERE key_id = 'fields' AND version = ?",
      ).run(encryptions, version);
    } finally {
      db.close();
    }
    return;
  }
  const index = fixture.settings.shards.findIndex((s) => s.startsWith(`${tenant.shard}=`));
  const client = new pg.Client({ connectionString: fixture.shardUrls[index]! });
  await client.connect();
  try {
    await client.query(
      "UPDATE data_keys SET encryptions = $1 WHERE tenant_id = $2 AND key_id = 'fields' AND version = $3",
      [encryptions, tenant.id, version],
    );
  } finally {
    await client.end();
  }
}

async function vaultTenant(api: TestApi, slug: string) {
  const t = await api.tenant(slug);
  const put = await api.call('PUT', '/v1/collections/vault', t.key, {
    schema: SCHEMA,
    encrypted: ['s'],
  });
  assert.equal(put.status, 201, JSON.stringify(put.body));
  return t;
}

for (const backend of backendNames()) {
  describe(`encryptions per data key version on ${backend}`, () => {
    test('a version that reaches the threshold gives way to a new one, which new writes use', async (t) => {
      const api = await TestApi.start(backend, LIMITS);
      t.after(() => api.close());
      const { key } = await vaultTenant(api, 'busy');
      const plain = await api.call('POST', '/v1/collections/vault/records', key, {});
      assert.equal(plain.status, 201, 'a record without encrypted fields');
      assert.deepEqual(await fieldKeys(api.http, key), [
        { version: 1, records: 0, encryptions: 0 },
      ]);
      for (const s of ['a', 'b', 'c'])
        assert.equal((await create(api.http, key, s)).statusCode, 201);
      await waitForVersion(api.http, key, 2);
      assert.equal((await create(api.http, key, 'd')).statusCode, 201);
      assert.deepEqual(await fieldKeys(api.http, key), [
        { version: 1, records: 3, encryptions: 3 },
        { version: 2, records: 1, encryptions: 1 },
      ]);

      const { body } = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key);
      const rotations = body.entries
        .map((e: { entry: { action: string; actor: string } }) => e.entry)
        .filter((e: { action: string }) => e.action === 'keys.rotate');
      assert.deepEqual(
        rotations.map((e: { actor: string }) => e.actor),
        ['key-limit'],
      );
    });

    test('the count outlives the process: the next one goes on from it', async (t) => {
      const api = await TestApi.start(backend, LIMITS);
      let restarted: Platform | undefined;
      t.after(async () => {
        await restarted?.close();
        await api.close();
      });
      const { key } = await vaultTenant(api, 'restarted');
      for (const s of ['a', 'b']) assert.equal((await create(api.http, key, s)).statusCode, 201);
      await api.platform.close();

      restarted = await startPlatform(api.fixture.settings, { listen: false });
      assert.deepEqual(await fieldKeys(restarted.http, key), [
        { version: 1, records: 2, encryptions: 2 },
      ]);
      assert.equal((await create(restarted.http, key, 'c')).statusCode, 201);
      await waitForVersion(restarted.http, key, 2);
    });

    test('a re-encryption job counts its encryptions under its target version', async (t) => {
      const api = await TestApi.start(backend, { dataKeyEncryptionBlock: '1' });
      t.after(() => api.close());
      const { key } = await vaultTenant(api, 'moved');
      for (const s of ['a', 'b', 'c'])
        assert.equal((await create(api.http, key, s)).statusCode, 201);
      const rotated = await api.call('POST', '/v1/keys/rotate', key);
      assert.equal(rotated.status, 202);
      const deadline = Date.now() + WAIT_MS;
      while (
        (await api.call('GET', `/v1/keys/jobs/${rotated.body.id}`, key)).body.state !== 'done'
      ) {
        assert.ok(Date.now() < deadline, 'the re-encryption job finished');
        await sleep(20);
      }
      assert.deepEqual((await fieldKeys(api.http, key)).at(-1), {
        version: 2,
        records: 3,
        encryptions: 3,
      });
    });

    test('no encryption is made past the bound: the write is refused and a new version starts', async (t) => {
      const api = await TestApi.start(backend, { dataKeyEncryptionBlock: '1' });
      t.after(() => api.close());
      const { id, key } = await vaultTenant(api, 'worn');
      const tenant = (await api.platform.stores.controlPlane.getTenant(id))!;
      await setEncryptions(api.fixture, tenant, 1, GCM_RANDOM_IV_LIMIT);

      const refused = await create(api.http, key, 'x');
      assert.equal(refused.statusCode, 503, refused.body);
      assert.equal(refused.json().code, 'PALISADE_KEY_ENCRYPTIONS_EXHAUSTED');
      await waitForVersion(api.http, key, 2);
      assert.equal((await create(api.http, key, 'y')).statusCode, 201);
      assert.deepEqual(await fieldKeys(api.http, key), [
        { version: 1, records: 0, encryptions: GCM_RANDOM_IV_LIMIT },
        { version: 2, records: 1, encryptions: 1 },
      ]);
    });
  });
}

describe('encryptions per data key version across processes on postgres', {
  skip: !backendNames().includes('postgres'),
}, () => {
  test('writers holding the version do not hold up each other’s reservations', async (t) => {
    const api = await TestApi.start('postgres');
    t.after(() => api.close());
    const { id } = await api.tenant('holders');
    const tenant = (await api.platform.stores.controlPlane.getTenant(id))!;
    const store = await api.platform.keys.store(tenant);
    const before = (await api.platform.keys.dataKeys(tenant, true)).find(
      (k) => k.keyId === 'fields',
    )!;
    // Each transaction (as one process's each) holds the version, then, once both hold it,
    // reserves: a share lock there made each reservation wait for the other's hold.
    const held = [Promise.withResolvers<void>(), Promise.withResolvers<void>()] as const;
    const writer = (mine: 0 | 1) =>
      store.transaction(async (tx) => {
        assert.ok(await tx.keys.holdActiveDataKey('fields', 1));
        held[mine].resolve();
        await held[1 - mine]!.promise;
        return tx.keys.reserveEncryptions('fields', 1, 10, GCM_RANDOM_IV_LIMIT);
      });
    const totals = await Promise.all([writer(0), writer(1)]);
    assert.deepEqual(
      totals.sort((x, y) => x! - y!),
      [before.encryptions + 10, before.encryptions + 20],
    );
  });

  test('two processes on one database add up their counts, and reach the threshold together', async (t) => {
    const api = await TestApi.start('postgres', {
      dataKeyRotateEncryptions: '5',
      dataKeyEncryptionBlock: '1',
    });
    // Another process: a data folder of its own, the same stores and keys.
    const otherData = mkdtempSync(join(tmpdir(), 'palisade-other-'));
    const { data } = api.fixture.settings;
    const other = await startPlatform(
      {
        ...api.fixture.settings,
        adminToken: ADMIN_TOKEN,
        data: otherData,
        masterKeyFile: join(data, 'master.key'),
        ledgerKeyFile: join(data, 'ledger-signing.json'),
      },
      { listen: false },
    );
    t.after(async () => {
      await other.close();
      await api.close();
      rmSync(otherData, { recursive: true, force: true });
    });
    const { key } = await vaultTenant(api, 'shared');
    await Promise.all([
      ...['a', 'b'].map(async (s) =>
        assert.equal((await create(api.http, key, s)).statusCode, 201),
      ),
      ...['c', 'd'].map(async (s) =>
        assert.equal((await create(other.http, key, s)).statusCode, 201),
      ),
    ]);
    assert.deepEqual(await fieldKeys(other.http, key), [
      { version: 1, records: 4, encryptions: 4 },
    ]);
    assert.equal((await create(other.http, key, 'e')).statusCode, 201);
    await waitForVersion(api.http, key, 2);
    assert.deepEqual((await fieldKeys(api.http, key))[0], {
      version: 1,
      records: 5,
      encryptions: 5,
    });
  });
});
