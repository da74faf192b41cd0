/**
 * Retiring an old data key version while another API process still holds the tenant's key
 * list from before the rotation (scale-out on PostgreSQL: two platforms on one database).
 * That process's next write must not be stored under the version the job just retired, and
 * with the processes on NATS it destroys its unwrapped copy of that version at once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Platform, startPlatform } from '../src/index.ts';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { backendNames, scaleOutConfigured } from './support/backends.ts';
import { apiAndIngest } from './support/scale-out.ts';

/** How long the job may take to finish. */
const JOB_WAIT_MS = 10_000;

const postgres = backendNames().includes('postgres');

describe('key retirement across API processes on postgres', { skip: !postgres }, () => {
  test('a write from a process that has not seen the rotation is not stored under the retired version', async () => {
    const api = await TestApi.start('postgres');
    // Another process: a data folder of its own (its in-process bus is its own), the same keys.
    const { data } = api.fixture.settings;
    const otherData = mkdtempSync(join(tmpdir(), 'palisade-other-'));
    const settings = {
      ...api.fixture.settings,
      adminToken: ADMIN_TOKEN,
      data: otherData,
      masterKeyFile: join(data, 'master.key'),
      ledgerKeyFile: join(data, 'ledger-signing.json'),
    };
    const other = await startPlatform(settings, { listen: false });
    let fresh: Platform | undefined;
    try {
      const t = await api.tenant('acme');
      const schema = { type: 'object', properties: { s: { type: 'string' } } };
      await api.call('PUT', '/v1/collections/vault', t.key, { schema, encrypted: ['s'] });
      const create = (platform: Platform, s: string) =>
        platform.http.inject({
          method: 'POST',
          url: '/v1/collections/vault/records',
          headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
          payload: JSON.stringify({ s }),
        });
      // The other process writes once: it now holds the key list with version 1 current.
      assert.equal((await create(other, 'before')).statusCode, 201);

      const rotated = await api.call('POST', '/v1/keys/rotate', t.key);
      assert.equal(rotated.status, 202);
      const deadline = Date.now() + JOB_WAIT_MS;
      while (
        (await api.call('GET', `/v1/keys/jobs/${rotated.body.id}`, t.key)).body.state !== 'done'
      ) {
        assert.ok(Date.now() < deadline, 'the re-encryption job finished');
        await sleep(20);
      }

      const late = await create(other, 'after');
      assert.equal(late.statusCode, 201);
      const keys = (await api.call('GET', '/v1/keys', t.key)).body.dataKeys as {
        version: number;
        state: string;
        records: number | null;
      }[];
      for (const key of keys.filter((k) => k.state === 'retired'))
        assert.equal(key.records, 0, `no record under retired version ${key.version}`);
      // A process with nothing cached reads it back (the other one's folder, once it stopped).
      await other.close();
      fresh = await startPlatform(settings, { listen: false });
      const read = await fresh.http.inject({
        method: 'GET',
        url: `/v1/collections/vault/records/${late.json().id}`,
        headers: { authorization: `Bearer ${t.key}` },
      });
      assert.equal(read.statusCode, 200, read.body);
      assert.equal(read.json().data.s, 'after');
    } finally {
      await fresh?.close();
      await other.close();
      await api.close();
      rmSync(otherData, { recursive: true, force: true });
    }
  });
});

describe('key retirement across processes on postgres and NATS', {
  skip: !scaleOutConfigured(),
}, () => {
  test('another process destroys its cached copy of a retired version at once, not when its time runs out', async (t) => {
    const { api, ingest } = await apiAndIngest(t);

    const { id, key } = await api.tenant('acme');
    const tenant = (await api.platform.stores.controlPlane.getTenant(id))!;
    const held = await ingest.keys.withFieldKeys(tenant, [], (keys) => keys.current);
    assert.equal(held.version, 1);

    const rotated = await api.call('POST', '/v1/keys/rotate', key);
    assert.equal(rotated.status, 202);
    const deadline = Date.now() + JOB_WAIT_MS;
    while ((await api.call('GET', `/v1/keys/jobs/${rotated.body.id}`, key)).body.state !== 'done') {
      assert.ok(Date.now() < deadline, 'the re-encryption job finished');
      await sleep(20);
    }
    while (!held.destroyed) {
      assert.ok(Date.now() < deadline, 'the other process destroyed the retired version');
      await sleep(20);
    }
    const current = await ingest.keys.withFieldKeys(tenant, [], (keys) => keys.current.version);
    assert.equal(current, 2);
  });
});
