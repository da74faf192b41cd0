/**
 * The master key: generated at first start (mode 0600, a warning), required afterwards, and
 * rotated offline by re-sealing every tenant KEK without touching data; records written
 * before the rotation read back after it, and the old key opens nothing any more.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CryptoError, LocalKms, MasterKey, openTenantKek } from '@palisade/crypto';
import { ConfigError, rotatePlatformMasterKey, startPlatform } from '../src/index.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

for (const backend of backendNames()) {
  describe(`master key on ${backend}`, () => {
    test('generated once with mode 0600, then rotated without touching data', async () => {
      const api = await TestApi.start(backend);
      const settings = api.fixture.settings;
      const file = join(settings.data, 'master.key');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const oldText = readFileSync(file, 'utf8');
      const t = await api.tenant('acme');
      await api.call('PUT', '/v1/collections/vault', t.key, {
        schema: { type: 'object', properties: { secret: { type: 'string' } } },
        encrypted: ['secret'],
      });
      const created = await api.call('POST', '/v1/collections/vault/records', t.key, {
        secret: 'opal',
      });
      await api.platform.close();

      const result = await rotatePlatformMasterKey(settings);
      assert.equal(result.resealed, result.keks);
      assert.ok(result.keks >= 1);
      assert.notEqual(result.toKeyId, result.fromKeyId);
      assert.equal(readFileSync(`${file}.previous`, 'utf8'), oldText);
      assert.notEqual(readFileSync(file, 'utf8'), oldText);

      const platform = await startPlatform(settings, { listen: false });
      try {
        const read = await platform.http.inject({
          method: 'GET',
          url: `/v1/collections/vault/records/${created.body.id}`,
          headers: { authorization: `Bearer ${t.key}` },
        });
        assert.equal(read.json().data.secret, 'opal');
        const oldKms = new LocalKms(MasterKey.fromText(oldText));
        for (const kek of await platform.stores.controlPlane.keys.listAllKeks())
          await assert.rejects(openTenantKek(oldKms, kek), (e) => e instanceof CryptoError);
        const ledger = await platform.http.inject({
          method: 'GET',
          url: '/v1/keys',
          headers: { authorization: `Bearer ${t.key}` },
        });
        assert.equal(ledger.statusCode, 200);
      } finally {
        await platform.close();
      }
      await api.fixture.cleanup();
    });

    test('a wrong master key stops nothing at start but cannot open a tenant’s keys', async () => {
      const api = await TestApi.start(backend);
      const t = await api.tenant('acme');
      await api.platform.close();
      const platform = await startPlatform(
        { ...api.fixture.settings, masterKey: MasterKey.generate().exportBase64() },
        { listen: false },
      );
      try {
        const reply = await platform.http.inject({
          method: 'POST',
          url: '/v1/keys/rotate',
          headers: { authorization: `Bearer ${t.key}` },
        });
        assert.ok([202, 500].includes(reply.statusCode));
        const put = await platform.http.inject({
          method: 'PUT',
          url: '/v1/collections/vault',
          headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
          payload: { schema: { type: 'object' }, encrypted: [] },
        });
        assert.equal(put.statusCode, 201);
        await platform.http.inject({
          method: 'PUT',
          url: '/v1/collections/sealed',
          headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
          payload: {
            schema: { type: 'object', properties: { s: { type: 'string' } } },
            encrypted: ['s'],
          },
        });
        const write = await platform.http.inject({
          method: 'POST',
          url: '/v1/collections/sealed/records',
          headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
          payload: { s: 'x' },
        });
        assert.equal(write.json().code, 'PALISADE_KEYS_UNAVAILABLE');
      } finally {
        await platform.close();
        await api.fixture.cleanup();
      }
    });

    test('a malformed master key is a configuration error naming no secret', async () => {
      const api = await TestApi.start(backend);
      await api.platform.close();
      await assert.rejects(
        startPlatform(
          { ...api.fixture.settings, masterKey: 'not-a-key-SECRETISH' },
          { listen: false },
        ),
        (e) => e instanceof ConfigError && !e.message.includes('SECRETISH'),
      );
      await api.fixture.cleanup();
    });
  });
}
