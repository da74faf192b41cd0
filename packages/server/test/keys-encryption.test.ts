/**
 * Encrypted fields end to end, on every backend: the API returns them decrypted to the
 * tenant, a raw dump of the tenant's store (SQLite file bytes with the WAL, `pg_dump` of the
 * shard) holds no plaintext, equality filters work through the blind index, a ciphertext moved
 * to another tenant, record, field or key version fails with a typed error, schema errors do
 * not describe encrypted values, and a copy of a deleted tenant's store cannot be decrypted
 * with anything the platform still holds (crypto-shredding).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BlindIndexKey,
  CryptoError,
  DataKey,
  DataKeyring,
  decryptField,
  openTenantKek,
  unwrapDataKey,
} from '@palisade/crypto';
import pg from 'pg';
import { openPlatformKms } from '../src/keys/index.ts';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { type BackendFixture, backendNames } from './support/backends.ts';

const SCHEMA = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    ward: { type: 'string' },
    ssn: { type: 'string', pattern: '^[0-9]{3}-[0-9]{2}-[0-9]{4}$' },
    notes: {
      type: 'object',
      additionalProperties: false,
      properties: { text: { type: 'string' } },
    },
  },
} as const;

/** A value that must never appear in any store, log or error. */
function secretSsn(): string {
  const n = randomBytes(4).readUInt32BE(0) % 1_000_000_000;
  return `${String(n).padStart(9, '0').slice(0, 3)}-${String(n).padStart(9, '0').slice(3, 5)}-${String(n).padStart(9, '0').slice(5, 9)}`;
}

/** Every byte the backend holds for the platform: all files (SQLite) or a dump of every database. */
function rawDump(fixture: BackendFixture): Buffer {
  const chunks: Buffer[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else chunks.push(readFileSync(path));
    }
  };
  walk(fixture.settings.data);
  for (const url of [fixture.settings.database, ...fixture.shardUrls]) {
    if (url === undefined) continue;
    chunks.push(execFileSync('pg_dump', ['--data-only', url], { maxBuffer: 1 << 28 }));
  }
  return Buffer.concat(chunks);
}

interface Sealed {
  sealed: string | null;
  key_version: number | null;
}

/** Raw access to one tenant's records, bypassing the server (as the store owner would). */
async function rawRecords<T>(
  fixture: BackendFixture,
  tenant: { id: string; shard: string },
  work: (db: {
    get(id: string): Promise<Sealed>;
    set(id: string, ciphertext: string, keyVersion?: number): Promise<void>;
  }) => Promise<T>,
): Promise<T> {
  if (fixture.name === 'sqlite') {
    const db = new DatabaseSync(
      join(fixture.settings.data, 'shards', tenant.shard, `${tenant.id}.db`),
      {
        timeout: 5000,
      },
    );
    try {
      return await work({
        get: async (id) => {
          const row = db
            .prepare('SELECT sealed, key_version FROM records WHERE id = ?')
            .get(id) as unknown as Sealed;
          return row;
        },
        set: async (id, ciphertext, keyVersion) => {
          db.prepare(
            'UPDATE records SET sealed = ?, key_version = coalesce(?, key_version) WHERE id = ?',
          ).run(ciphertext, keyVersion ?? null, id);
        },
      });
    } finally {
      db.close();
    }
  }
  const index = fixture.settings.shards.findIndex((s) => s.startsWith(`${tenant.shard}=`));
  const client = new pg.Client({ connectionString: fixture.shardUrls[index]! });
  await client.connect();
  try {
    return await work({
      get: async (id) =>
        (await client.query<Sealed>('SELECT sealed, key_version FROM records WHERE id = $1', [id]))
          .rows[0]!,
      set: async (id, ciphertext, keyVersion) => {
        await client.query(
          'UPDATE records SET sealed = $1, key_version = coalesce($2, key_version) WHERE id = $3',
          [JSON.stringify(ciphertext), keyVersion ?? null, id],
        );
      },
    });
  } finally {
    await client.end();
  }
}

/** Polls until the key job is done; the deadline only bounds a hung job (a loaded machine is slow). */
async function waitForJob(api: TestApi, key: string, id: string): Promise<void> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    const job = await api.call('GET', `/v1/keys/jobs/${id}`, key);
    if (job.body.state === 'done') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the key job did not finish');
}

for (const backend of backendNames()) {
  describe(`encrypted fields on ${backend}`, () => {
    let fixture: BackendFixture;
    let api: TestApi;
    let a: { id: string; key: string; shard: string };
    let b: { id: string; key: string; shard: string };
    const ssnA = secretSsn();
    const noteA = `note-${randomBytes(8).toString('hex')}`;
    const records: string[] = [];

    before(async () => {
      api = await TestApi.start(backend);
      fixture = api.fixture;
      for (const [slug, assign] of [
        [
          'alpha',
          (t: typeof a) => {
            a = t;
          },
        ],
        [
          'beta',
          (t: typeof a) => {
            b = t;
          },
        ],
      ] as const) {
        const t = await api.tenant(slug);
        const shard = (await api.call('GET', `/v1/platform/tenants/${t.id}`, ADMIN_TOKEN)).body
          .shard;
        assign({ id: t.id, key: t.key, shard });
        const put = await api.call('PUT', '/v1/collections/patients', t.key, {
          schema: SCHEMA,
          encrypted: ['ssn', 'notes'],
        });
        assert.equal(put.status, 201);
      }
      for (const [i, ssn] of [ssnA, secretSsn(), secretSsn()].entries()) {
        const created = await api.call('POST', '/v1/collections/patients/records', a.key, {
          name: `P${i}`,
          ward: 'B',
          ssn,
          notes: { text: i === 0 ? noteA : 'other' },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        assert.equal(created.body.data.ssn, ssn);
        records.push(created.body.id);
      }
      await api.call('POST', '/v1/collections/patients/records', b.key, {
        name: 'B0',
        ssn: secretSsn(),
      });
    });
    after(() => api.close());

    test('the tenant reads its encrypted fields decrypted, and filters on them by equality', async () => {
      const one = await api.call('GET', `/v1/collections/patients/records/${records[0]}`, a.key);
      assert.deepEqual(one.body.data, { name: 'P0', ward: 'B', ssn: ssnA, notes: { text: noteA } });
      const found = await api.call(
        'GET',
        `/v1/collections/patients/records?filter%5Bssn%5D=${ssnA}`,
        a.key,
      );
      assert.deepEqual(
        found.body.items.map((r: { id: string }) => r.id),
        [records[0]],
      );
      const none = await api.call(
        'GET',
        `/v1/collections/patients/records?filter%5Bssn%5D=${ssnA}`,
        b.key,
      );
      assert.deepEqual(none.body.items, []);
      const patched = await api.call(
        'PATCH',
        `/v1/collections/patients/records/${records[1]}`,
        a.key,
        { ward: 'C' },
        { 'content-type': 'application/merge-patch+json' },
      );
      assert.equal(patched.status, 200);
      assert.match(patched.body.data.ssn, /^\d{3}-\d{2}-\d{4}$/);
    });

    test('a record whose fields are all encrypted reads back whole, alone and listed', async () => {
      const put = await api.call('PUT', '/v1/collections/vault', a.key, {
        schema: {
          type: 'object',
          properties: { ssn: { type: 'string' }, pin: { type: 'object' } },
        },
        encrypted: ['ssn', 'pin'],
      });
      assert.equal(put.status, 201, JSON.stringify(put.body));
      const data = { ssn: secretSsn(), pin: { digits: [1, 2, 3, 4], note: 'a "quoted" \\ note' } };
      const created = await api.call('POST', '/v1/collections/vault/records', a.key, data);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const one = await api.call('GET', `/v1/collections/vault/records/${created.body.id}`, a.key);
      assert.deepEqual(one.body.data, data);
      const listed = await api.call('GET', '/v1/collections/vault/records', a.key);
      assert.deepEqual(
        listed.body.items.map((r: { data: unknown }) => r.data),
        [data],
      );
    });

    test('a raw dump of every store holds no plaintext of an encrypted field', async () => {
      const dump = rawDump(fixture);
      assert.ok(dump.length > 10_000);
      assert.ok(dump.includes('P0'), 'the dump does hold the plaintext fields');
      assert.ok(!dump.includes(ssnA), 'ssn in plaintext');
      assert.ok(!dump.includes(noteA), 'notes in plaintext');
      assert.ok(!dump.includes(JSON.stringify(ssnA)), 'ssn as JSON');
    });

    test('a schema error about an encrypted field does not describe its value', async () => {
      const bad = await api.call('POST', '/v1/collections/patients/records', a.key, {
        name: 'X',
        ssn: 'not-a-number-SECRET',
        notes: { leakedMemberName: 1 },
      });
      assert.equal(bad.status, 422);
      const text = JSON.stringify(bad.body);
      assert.ok(!text.includes('SECRET') && !text.includes('leakedMemberName'), text);
      assert.deepEqual(bad.body.errors.map((e: { path: string }) => e.path).sort(), [
        '/notes',
        '/ssn',
      ]);
    });

    test('a ciphertext moved to another record, tenant or key version fails with a typed error', async () => {
      const tenantA = { id: a.id, shard: a.shard };
      const original = await rawRecords(fixture, tenantA, (db) => db.get(records[0]!));
      const ciphertext = original.sealed as string;
      const expectFailure = async (tenant: typeof a, id: string, crypto: string) => {
        const reply = await api.call('GET', `/v1/collections/patients/records/${id}`, tenant.key);
        assert.equal(reply.status, 500, JSON.stringify(reply.body));
        assert.equal(reply.body.code, 'PALISADE_DECRYPTION_FAILED');
        assert.match(reply.body.detail, new RegExp(crypto));
        assert.ok(!JSON.stringify(reply.body).includes(ssnA));
      };
      // Another record of the same tenant and collection.
      const before = await rawRecords(fixture, tenantA, (db) => db.get(records[2]!));
      await rawRecords(fixture, tenantA, (db) => db.set(records[2]!, ciphertext));
      await expectFailure(a, records[2]!, 'CRYPTO_DECRYPT_FAILED');
      // Another tenant.
      const tenantB = { id: b.id, shard: b.shard };
      const bRecord = (await api.call('GET', '/v1/collections/patients/records', b.key)).body
        .items[0].id;
      const bBefore = await rawRecords(fixture, tenantB, (db) => db.get(bRecord));
      await rawRecords(fixture, tenantB, (db) => db.set(bRecord, ciphertext));
      await expectFailure(b, bRecord, 'CRYPTO_DECRYPT_FAILED');
      // Another key version: restore, rotate, then relabel a version-1 ciphertext as version 2.
      await rawRecords(fixture, tenantB, (db) => db.set(bRecord, bBefore.sealed as string));
      await rawRecords(fixture, tenantA, (db) => db.set(records[2]!, before.sealed as string));
      const job = await api.call('POST', '/v1/keys/rotate', a.key);
      assert.equal(job.status, 202);
      await waitForJob(api, a.key, job.body.id);
      const own = (await rawRecords(fixture, tenantA, (db) => db.get(records[2]!)))
        .sealed as string;
      const relabeled = Buffer.from(ciphertext, 'base64');
      const idLength = relabeled[2]!;
      assert.equal(relabeled.readUInt32BE(3 + idLength), 1);
      relabeled.writeUInt32BE(2, 3 + idLength);
      await rawRecords(fixture, tenantA, (db) => db.set(records[2]!, relabeled.toString('base64')));
      await expectFailure(a, records[2]!, 'CRYPTO_DECRYPT_FAILED');
      // A version-1 ciphertext after version 1 was retired.
      await rawRecords(fixture, tenantA, (db) => db.set(records[2]!, ciphertext));
      await expectFailure(a, records[2]!, 'CRYPTO_UNKNOWN_KEY_VERSION');
      // A modified byte of the record's own ciphertext.
      const flipped = Buffer.from(own, 'base64');
      flipped[flipped.length - 1]! ^= 1;
      await rawRecords(fixture, tenantA, (db) => db.set(records[2]!, flipped.toString('base64')));
      await expectFailure(a, records[2]!, 'CRYPTO_DECRYPT_FAILED');
      // The untouched record still reads (it was re-encrypted to version 2 by the job).
      const ok = await api.call('GET', `/v1/collections/patients/records/${records[0]}`, a.key);
      assert.equal(ok.body.data.ssn, ssnA);
      const now = await rawRecords(fixture, tenantA, (db) => db.get(records[0]!));
      assert.equal(now.key_version, 2);
    });

    test('crypto-shredding: a copy of a deleted tenant’s store decrypts with nothing the platform holds', async () => {
      const victim = await api.tenant('gamma');
      const shard = (await api.call('GET', `/v1/platform/tenants/${victim.id}`, ADMIN_TOKEN)).body
        .shard;
      await api.call('PUT', '/v1/collections/patients', victim.key, {
        schema: SCHEMA,
        encrypted: ['ssn'],
      });
      const ssn = secretSsn();
      const created = await api.call('POST', '/v1/collections/patients/records', victim.key, {
        name: 'G',
        ssn,
      });
      const copy = await copyTenantStore(fixture, { id: victim.id, shard });
      const controlPlane = api.platform.stores.controlPlane;
      const kms = await openPlatformKms(fixture.settings, undefined, { generateIfMissing: false });
      /** Tries to decrypt the copy with every KEK the control plane holds and the master key. */
      const attempt = async (): Promise<string | undefined> => {
        for (const kek of await controlPlane.keys.listAllKeks()) {
          try {
            const secret = await openTenantKek(kms, kek);
            const key = unwrapDataKey(
              secret,
              { tenantId: victim.id, kekVersion: kek.version },
              copy.wrapped,
            );
            const plain = decryptField(
              new DataKeyring([key]),
              {
                tenantId: victim.id,
                collection: 'patients',
                recordId: created.body.id,
                field: '{sealed fields}',
              },
              copy.ciphertext,
            );
            return JSON.parse(Buffer.from(plain).toString()).ssn;
          } catch (error) {
            if (!(error instanceof CryptoError)) throw error;
          }
        }
        return undefined;
      };
      assert.equal(await attempt(), ssn, 'before deletion the copy decrypts (the attempt works)');
      const deleted = await api.call('DELETE', `/v1/platform/tenants/${victim.id}`, ADMIN_TOKEN);
      assert.equal(deleted.status, 204);
      assert.deepEqual(await controlPlane.keys.listKeks(victim.id), []);
      assert.equal(
        await attempt(),
        undefined,
        'after deletion nothing the platform holds opens it',
      );
      assert.ok(!rawDump(fixture).includes(ssn));
    });
  });

  describe(`key expiry on ${backend}`, () => {
    test('a blind-index key is destroyed once the data key that wraps it has expired', async (t) => {
      const api = await TestApi.start(backend, { dataKeyCacheTtlMs: String(KEY_TTL_MS) });
      try {
        const opened = t.mock.method(BlindIndexKey, 'fromBytes');
        const write = async (slug: string) => {
          const tenant = await api.tenant(slug);
          await api.call('PUT', '/v1/collections/people', tenant.key, {
            schema: SCHEMA,
            encrypted: ['ssn'],
          });
          const created = await api.call('POST', '/v1/collections/people/records', tenant.key, {
            name: 'Ada',
            ssn: '123-45-6789',
          });
          assert.equal(created.status, 201);
        };
        await write('idle');
        const idleKey = opened.mock.calls[0]!.result as BlindIndexKey;
        assert.equal(idleKey.destroyed, false);
        await sleep(2 * KEY_TTL_MS);
        await write('busy'); // loads keys, which prunes the idle tenant's expired ones
        assert.equal(idleKey.destroyed, true);
        const busyKey = opened.mock.calls[1]!.result as BlindIndexKey;
        // With no request at all, the periodic sweep destroys it within half the limit again.
        await sleep(2 * KEY_TTL_MS);
        assert.equal(busyKey.destroyed, true, 'destroyed in a process that has gone idle');
      } finally {
        await api.close();
      }
    });

    test('a time limit past two timer spans does not set the key sweep running every millisecond', async (t) => {
      t.mock.timers.enable({ apis: ['setInterval'] });
      // The sweep runs every half limit; Node.js runs an interval over 2^31 - 1 ms every 1 ms.
      const api = await TestApi.start(backend, { dataKeyCacheTtlMs: String(2 ** 32) });
      try {
        const sweep = t.mock.method(api.platform.keys, 'sweep');
        t.mock.timers.tick(1);
        assert.equal(sweep.mock.callCount(), 0);
      } finally {
        await api.close();
      }
    });
  });
  describe(`key retirement on ${backend}`, () => {
    test('a retired version is destroyed in memory too: a row restored under it no longer decrypts', async (t) => {
      const api = await TestApi.start(backend);
      try {
        const made = t.mock.method(DataKey, 'fromBytes');
        const tenant = await api.tenant('acme');
        const shard = (await api.call('GET', `/v1/platform/tenants/${tenant.id}`, ADMIN_TOKEN)).body
          .shard;
        const place = { id: tenant.id, shard };
        await api.call('PUT', '/v1/collections/patients', tenant.key, {
          schema: SCHEMA,
          encrypted: ['ssn'],
        });
        const ssn = secretSsn();
        const created = await api.call('POST', '/v1/collections/patients/records', tenant.key, {
          name: 'Ada',
          ssn,
        });
        const v1Row = await rawRecords(api.fixture, place, (db) => db.get(created.body.id));
        assert.equal(v1Row.key_version, 1);
        const job = await api.call('POST', '/v1/keys/rotate', tenant.key);
        await waitForJob(api, tenant.key, job.body.id);

        const v1Keys = made.mock.calls
          .map((call) => call.result as DataKey)
          .filter((key) => key.keyId === 'fields' && key.version === 1);
        assert.ok(v1Keys.length > 1, 'version 1 was generated, then unwrapped and cached');
        assert.ok(
          v1Keys.every((key) => key.destroyed),
          'no copy of the retired key is left in memory',
        );
        // A copy of the row from before the rotation (a backup restored into place).
        await rawRecords(api.fixture, place, (db) =>
          db.set(created.body.id, v1Row.sealed as string, 1),
        );
        const read = await api.call(
          'GET',
          `/v1/collections/patients/records/${created.body.id}`,
          tenant.key,
        );
        assert.equal(read.status, 500, JSON.stringify(read.body));
        assert.equal(read.body.code, 'PALISADE_DECRYPTION_FAILED');
        assert.ok(!JSON.stringify(read.body).includes(ssn));
      } finally {
        await api.close();
      }
    });
  });
}

/** dataKeyCacheTtlMs of the key expiry test. */
const KEY_TTL_MS = 200;

/** Copies the tenant's store aside (file bytes, or rows into side tables) and reads it back. */
async function copyTenantStore(
  fixture: BackendFixture,
  tenant: { id: string; shard: string },
): Promise<{ wrapped: Uint8Array; ciphertext: Uint8Array }> {
  if (fixture.name === 'sqlite') {
    const file = join(fixture.settings.data, 'shards', tenant.shard, `${tenant.id}.db`);
    const copy = join(fixture.settings.data, `copy-${tenant.id}.db`);
    for (const suffix of ['', '-wal'])
      if (existsSync(file + suffix)) copyFileSync(file + suffix, copy + suffix);
    const db = new DatabaseSync(copy);
    try {
      const key = db.prepare("SELECT wrapped FROM data_keys WHERE key_id = 'fields'").get() as {
        wrapped: Uint8Array;
      };
      const row = db.prepare('SELECT sealed FROM records').get() as { sealed: string };
      return { wrapped: key.wrapped, ciphertext: Buffer.from(row.sealed, 'base64') };
    } finally {
      db.close();
    }
  }
  const index = fixture.settings.shards.findIndex((s) => s.startsWith(`${tenant.shard}=`));
  const client = new pg.Client({ connectionString: fixture.shardUrls[index]! });
  await client.connect();
  try {
    await client.query(
      'CREATE TABLE copy_data_keys AS SELECT * FROM data_keys WHERE tenant_id = $1',
      [tenant.id],
    );
    await client.query('CREATE TABLE copy_records AS SELECT * FROM records WHERE tenant_id = $1', [
      tenant.id,
    ]);
    const key = await client.query("SELECT wrapped FROM copy_data_keys WHERE key_id = 'fields'");
    const row = await client.query('SELECT sealed FROM copy_records');
    return {
      wrapped: key.rows[0].wrapped,
      ciphertext: Buffer.from(row.rows[0].sealed, 'base64'),
    };
  } finally {
    await client.end();
  }
}
