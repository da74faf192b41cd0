/**
 * SQLite tenant migration 23 and PostgreSQL shard migration 22 give each data key version an
 * encryption count. A field key version made before starts from its tenant's record ledger
 * entries (each record write sealed at most once), an upper bound of what it encrypted; the
 * blind-index key from the one secret it encrypted.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { migratePostgres } from '../src/store/postgres/postgres-migrate.ts';
import { asTenant, shardBefore, tenantFileBefore } from './support/shard-before.ts';

const CREATED = '2026-01-01T00:00:00.000Z';
/** Versions before the migration: key id, version. */
const KEYS = [
  ['blind-index', 1],
  ['fields', 1],
  ['fields', 2],
] as const;
/** Ledger resources before the migration: four under `collections/`. */
const RESOURCES = [
  'collections/vault',
  'collections/vault/records/a',
  'collections/vault/records/a',
  'collections/vault/records/b',
  'telemetry/d1',
  'keys',
];
const COUNTED = [
  { keyId: 'blind-index', version: 1, encryptions: 1 },
  { keyId: 'fields', version: 1, encryptions: 4 },
  { keyId: 'fields', version: 2, encryptions: 4 },
];

test('sqlite: versions made before migration 23 count their tenant’s record ledger entries', async (t) => {
  const { old, open } = tenantFileBefore(t, 23);
  for (const [keyId, version] of KEYS)
    old
      .prepare(
        `INSERT INTO data_keys (key_id, version, kek_version, state, created_at)
         VALUES (?, ?, 1, 'active', ?)`,
      )
      .run(keyId, version, CREATED);
  for (const [seq, resource] of RESOURCES.entries())
    old
      .prepare("INSERT INTO ledger_entries (seq, batch, resource, entry) VALUES (?, 0, ?, '{}')")
      .run(seq, resource);
  const store = await open();
  const keys = await store.reader.keys.listDataKeys();
  assert.deepEqual(
    keys.map(({ keyId, version, encryptions }) => ({ keyId, version, encryptions })),
    COUNTED,
  );
});

const adminUrl = process.env.PALISADE_TEST_POSTGRES_URL;

test('postgres: versions made before shard migration 22 count their own tenant’s record ledger entries', {
  skip: adminUrl === undefined,
}, async (t) => {
  const { owner, migrations } = await shardBefore(t, adminUrl!, 22);
  // Another tenant's ledger entries count for it alone.
  const [tenant, other] = [randomUUID(), randomUUID()];
  for (const id of [tenant, other])
    for (const [keyId, version] of KEYS)
      await asTenant(
        owner,
        id,
        `INSERT INTO data_keys (tenant_id, key_id, version, kek_version, state, created_at)
         VALUES ($1, $2, $3, 1, 'active', $4)`,
        [id, keyId, version, CREATED],
      );
  for (const [seq, resource] of RESOURCES.entries())
    await asTenant(
      owner,
      tenant,
      "INSERT INTO ledger_entries (tenant_id, seq, batch, resource, entry) VALUES ($1, $2, 0, $3, '{}')",
      [tenant, seq, resource],
    );
  await asTenant(
    owner,
    other,
    "INSERT INTO ledger_entries (tenant_id, seq, batch, resource, entry) VALUES ($1, 0, 0, 'collections/x/records/y', '{}')",
    [other],
  );
  await migratePostgres(owner, 'shard', migrations);
  const counts = (id: string) =>
    asTenant(
      owner,
      id,
      `SELECT key_id AS "keyId", version, encryptions::float8 AS encryptions FROM data_keys
       WHERE tenant_id = $1 ORDER BY key_id, version`,
      [id],
    );
  assert.deepEqual(await counts(tenant), COUNTED);
  assert.deepEqual(await counts(other), [
    { keyId: 'blind-index', version: 1, encryptions: 1 },
    { keyId: 'fields', version: 1, encryptions: 1 },
    { keyId: 'fields', version: 2, encryptions: 1 },
  ]);
});
