/**
 * The master key: generated at first start (mode 0600, a warning), required afterwards, and
 * rotated offline by re-sealing every tenant KEK without touching data; records written
 * before the rotation read back after it, and the old key opens nothing any more.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  CryptoError,
  LocalKms,
  loadMasterKey,
  MasterKey,
  openTenantKek,
  rotateMasterKey,
} from '@palisade/crypto';
import { commitState } from '@palisade/ledger';
import { nodeSha256 } from '@palisade/ledger/node';
import {
  ConfigError,
  type Platform,
  rotatePlatformMasterKey,
  type Settings,
  startPlatform,
} from '../src/index.ts';
import { openPlatformKms } from '../src/keys/index.ts';
import { openStores } from '../src/store/index.ts';
import { PgControlPlaneKeys } from '../src/store/postgres/postgres-key-store.ts';
import { SqliteControlPlaneKeys } from '../src/store/sqlite/sqlite-key-store.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/** How many keys.master-rotate entries of the tenant's ledger commit to `from` → `to`. */
async function masterRotations(settings: Settings, tenantId: string, from: string, to: string) {
  const stores = await openStores(settings);
  try {
    const tenant = (await stores.controlPlane.getTenant(tenantId))!;
    const { reader } = await stores.shards.get(tenant.shard)!.tenant(tenantId);
    const state = { fromMasterKeyId: from, toMasterKeyId: to };
    return (await reader.ledgerEntries(0, (await reader.ledgerHead()).nextSeq)).filter(
      (row) =>
        row.resource === 'keys/kek' &&
        JSON.parse(row.entry).commitment === commitState(nodeSha256, row.salt!, state),
    ).length;
  } finally {
    await stores.close();
  }
}

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

    test('refused while a server runs, and a server refuses to start while it runs', async () => {
      const api = await TestApi.start(backend);
      const settings = api.fixture.settings;
      await api.tenant('acme');
      const file = join(settings.data, 'master.key');
      const before = readFileSync(file, 'utf8');
      // The running server holds the old key: a KEK it sealed after a rotation would be lost.
      await assert.rejects(
        rotatePlatformMasterKey(settings),
        (e) => e instanceof ConfigError && /server is running.*stop every server/.test(e.message),
      );
      assert.equal(readFileSync(file, 'utf8'), before, 'the key file is untouched');
      await api.platform.close();
      // Its refusal, if the server wins, may come while the server is still starting.
      const rotation = rotatePlatformMasterKey(settings, {
        newKeyFile: join(settings.data, 'new-master.key'),
      }).catch((error: unknown) => error);
      // While the rotation holds the lock a server cannot start (it may win the race instead).
      const started = await startPlatform(settings, { listen: false }).then(
        (platform) => platform,
        (error: unknown) => error,
      );
      const result = await rotation;
      if (started instanceof Error) {
        assert.ok(
          started instanceof ConfigError && /rotate-master is running/.test(started.message),
        );
        assert.ok(!(result instanceof Error), String(result));
      } else {
        assert.ok(result instanceof ConfigError, 'one of the two refuses');
        await (started as Awaited<ReturnType<typeof startPlatform>>).close();
      }
      await api.fixture.cleanup();
    });

    test('a rotation interrupted after re-sealing still records keys.master-rotate when run again', async () => {
      const api = await TestApi.start(backend);
      const settings = api.fixture.settings;
      const t = await api.tenant('acme');
      await api.platform.close();
      const newKeyFile = join(settings.data, 'new-master.key');
      // The interrupted first run: every KEK re-sealed under the new key, then a crash.
      const from = await openPlatformKms(settings, undefined, { generateIfMissing: false });
      const to = new LocalKms(
        (await loadMasterKey({ keyFile: newKeyFile, generateIfMissing: true })).key,
      );
      const stores = await openStores(settings);
      try {
        const keks = await stores.controlPlane.keys.listAllKeks();
        for (const row of await rotateMasterKey(keks, from, to))
          await stores.controlPlane.keys.replaceSealedSeed(
            row.tenantId,
            row.version,
            row.sealedSeed,
          );
      } finally {
        await stores.close();
      }

      const result = await rotatePlatformMasterKey(settings, { newKeyFile });
      assert.equal(result.resealed, 0);
      assert.equal(await masterRotations(settings, t.id, from.keyId, to.keyId), 1);
      await rotatePlatformMasterKey(settings, { newKeyFile });
      assert.equal(await masterRotations(settings, t.id, from.keyId, to.keyId), 1, 'once');
      await api.fixture.cleanup();
    });

    test('a rotation interrupted part-way leaves a platform that refuses the old key until it is run again', async (t) => {
      const api = await TestApi.start(backend);
      const settings = api.fixture.settings;
      const secrets = new Map<{ key: string }, { id: string; secret: string }>();
      for (const slug of ['acme', 'bravo', 'charlie']) {
        const tenant = await api.tenant(slug);
        await api.call('PUT', '/v1/collections/vault', tenant.key, {
          schema: { type: 'object', properties: { secret: { type: 'string' } } },
          encrypted: ['secret'],
        });
        const secret = `opal-${slug}`;
        const created = await api.call('POST', '/v1/collections/vault/records', tenant.key, {
          secret,
        });
        secrets.set(tenant, { id: created.body.id, secret });
      }
      await api.platform.close();

      // The process dies after re-sealing one KEK (any one: the order is the rotation's).
      const keys =
        backend === 'sqlite' ? SqliteControlPlaneKeys.prototype : PgControlPlaneKeys.prototype;
      const replace = keys.replaceSealedSeed;
      const crash = t.mock.method(
        keys,
        'replaceSealedSeed',
        function (this: typeof keys, ...args: Parameters<typeof replace>) {
          if (crash.mock.callCount() > 0) throw new Error('killed mid-rotation');
          return replace.apply(this, args);
        },
      );
      await assert.rejects(rotatePlatformMasterKey(settings), /killed mid-rotation/);
      crash.mock.restore();

      const started = await startPlatform(settings, { listen: false }).catch((e: unknown) => e);
      if (!(started instanceof Error)) await (started as Platform).close();
      assert.ok(
        started instanceof ConfigError && /rotate-master was interrupted/.test(started.message),
        `the old key is refused, not ${started}`,
      );
      await rotatePlatformMasterKey(settings);
      const platform = await startPlatform(settings, { listen: false });
      try {
        for (const [tenant, record] of secrets) {
          const read = await platform.http.inject({
            method: 'GET',
            url: `/v1/collections/vault/records/${record.id}`,
            headers: { authorization: `Bearer ${tenant.key}` },
          });
          assert.equal(read.statusCode, 200, read.body);
          assert.equal(read.json().data.secret, record.secret);
        }
      } finally {
        await platform.close();
        await api.fixture.cleanup();
      }
    });

    test('a platform holding tenant keys starts only with the master key that sealed them', async () => {
      const api = await TestApi.start(backend);
      const settings = api.fixture.settings;
      const t = await api.tenant('acme');
      await api.platform.close();
      const file = join(settings.data, 'master.key');
      const right = readFileSync(file, 'utf8');
      const rightId = new LocalKms(MasterKey.fromText(right, 'the test key')).keyId;

      const other = MasterKey.generate();
      await assert.rejects(
        startPlatform({ ...settings, masterKey: other.exportBase64() }, { listen: false }),
        (e) =>
          e instanceof ConfigError &&
          e.message.includes(`sealed under (${rightId})`) &&
          e.message.includes(new LocalKms(other).keyId),
      );

      // A data folder moved or restored without its key file: no new key is made for it.
      rmSync(file);
      await assert.rejects(
        startPlatform(settings, { listen: false }),
        (e) =>
          e instanceof ConfigError &&
          e.message.includes(`sealed under master key ${rightId}`) &&
          e.message.includes(file),
      );
      assert.equal(existsSync(file), false, 'no key file was generated');

      writeFileSync(file, right, { mode: 0o600 });
      const platform = await startPlatform(settings, { listen: false });
      try {
        const reply = await platform.http.inject({
          method: 'GET',
          url: '/v1/collections',
          headers: { authorization: `Bearer ${t.key}` },
        });
        assert.equal(reply.statusCode, 200);
      } finally {
        await platform.close();
        await api.fixture.cleanup();
      }
    });

    test('a master key given in the settings warns only when a key file or passphrase was configured too', async () => {
      const api = await TestApi.start(backend);
      await api.platform.close();
      const settings = api.fixture.settings;
      const masterKey = readFileSync(join(settings.data, 'master.key'), 'utf8');
      const warningsOf = async (given: Settings) => {
        const warnings: string[] = [];
        await openPlatformKms(given, {
          warn: (_: unknown, message?: string) => warnings.push(message ?? ''),
        });
        return warnings;
      };
      try {
        assert.deepEqual(await warningsOf({ ...settings, masterKey }), []);
        const both = { ...settings, masterKey, masterKeyFile: join(settings.data, 'master.key') };
        assert.deepEqual(await warningsOf(both), [
          'PALISADE_MASTER_KEY is set, so the configured key file or passphrase is ignored',
        ]);
      } finally {
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
