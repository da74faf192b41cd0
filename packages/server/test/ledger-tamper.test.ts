import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import {
  fromBase64Url,
  isLedgerError,
  type LedgerBundle,
  parseVerifierKey,
  verifyBundle,
  verifyStateCommitment,
} from '@palisade/ledger';
import { nodeHasher, nodeVerifyProvider } from '@palisade/ledger/node';
import pg from 'pg';
import { PEOPLE_SCHEMA, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/** Raw SQL against one tenant's rows or the platform log, as an attacker with database access would. */
interface Tamperer {
  tenant(sql: string, params?: unknown[]): Promise<void>;
  platform(sql: string, params?: unknown[]): Promise<void>;
}

function sqliteTamperer(api: TestApi, tenantId: string, shard: string): Tamperer {
  const run = (path: string, pgOrSqlite: string, params: unknown[]) => {
    // Statements name the tenant as {t} for PostgreSQL's shared tables; a SQLite file holds one tenant.
    const sql = pgOrSqlite.replaceAll(/ AND tenant_id = \{t\}| WHERE tenant_id = \{t\}/g, '');
    const db = new DatabaseSync(path);
    try {
      // An attacker with the file simply drops the append-only triggers first.
      for (const { name } of db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .all() as { name: string }[]) {
        db.exec(`DROP TRIGGER ${name}`);
      }
      db.prepare(sql).run(...(params as (string | number)[]));
    } finally {
      db.close();
    }
  };
  const data = api.platform.settings.data;
  return {
    tenant: async (sql, params = []) =>
      run(join(data, 'shards', shard, `${tenantId}.db`), sql, params),
    platform: async (sql, params = []) => run(join(data, 'platform-log.db'), sql, params),
  };
}

function postgresTamperer(api: TestApi, tenantId: string, shard: string): Tamperer {
  const run = async (url: string, sql: string, params: unknown[]) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(
        sql.replaceAll('{t}', `'${tenantId}'`),
        params.length > 0 ? params : undefined,
      );
    } finally {
      await client.end();
    }
  };
  return {
    tenant: (sql, params = []) => run(api.platform.stores.shards.get(shard)!.location, sql, params),
    platform: (sql, params = []) => run(api.platform.settings.database!, sql, params),
  };
}

interface Case {
  readonly name: string;
  readonly attack: (t: Tamperer, backend: string) => Promise<void>;
  readonly names: RegExp;
}

const sqlite = (backend: string, a: string, b: string) => (backend === 'sqlite' ? a : b);

const CASES: Case[] = [
  {
    name: 'one byte of a stored entry',
    attack: (t) =>
      t.tenant(
        "UPDATE ledger_entries SET entry = replace(entry, 'record.create', 'record.crEate') WHERE seq = (SELECT min(seq) FROM ledger_entries WHERE entry LIKE '%record.create%' AND tenant_id = {t}) AND tenant_id = {t}",
      ),
    names: /batch \d+: entries \d+–\d+ do not hash/,
  },
  {
    name: 'a dropped entry',
    attack: (t) => t.tenant('DELETE FROM ledger_entries WHERE seq = 6 AND tenant_id = {t}'),
    names: /entry at position 6 has seq 7/,
  },
  {
    name: 'two entries reordered',
    attack: async (t) => {
      await t.tenant(
        'UPDATE ledger_entries SET entry = replace(entry, \'"seq":7,\', \'"seq":-1,\') WHERE seq = 7 AND tenant_id = {t}',
      );
      await t.tenant(
        'UPDATE ledger_entries SET entry = replace(entry, \'"seq":8,\', \'"seq":7,\') WHERE seq = 8 AND tenant_id = {t}',
      );
      await t.tenant(
        'UPDATE ledger_entries SET entry = replace(entry, \'"seq":-1,\', \'"seq":8,\') WHERE seq = 7 AND tenant_id = {t}',
      );
    },
    names: /entry at position 7 has seq 8/,
  },
  {
    name: 'one byte of a batch leaf',
    attack: (t) =>
      t.tenant(
        'UPDATE ledger_batches SET leaf = replace(leaf, \'"v":1\', \'"v":2\') WHERE batch = 2 AND tenant_id = {t}',
      ),
    names: /batch 2 is not a valid batch header/,
  },
  {
    name: 'one byte of a stored subtree hash',
    attack: (t, b) =>
      t.tenant(
        sqlite(
          b,
          'UPDATE ledger_nodes SET hash = zeroblob(32) WHERE level = (SELECT max(level) FROM ledger_nodes)',
          "UPDATE ledger_nodes SET hash = decode(repeat('00', 32), 'hex') WHERE tenant_id = {t} AND level = (SELECT max(level) FROM ledger_nodes WHERE tenant_id = {t})",
        ),
      ),
    names: /stored subtree hashes do not give the signed root/,
  },
  {
    name: 'a record changed outside the API',
    attack: (t, b) =>
      t.tenant(
        sqlite(
          b,
          "UPDATE records SET data = json_set(data, '$.age', 1000) WHERE id = (SELECT min(id) FROM records)",
          "UPDATE records SET data = jsonb_set(data, '{age}', '1000') WHERE tenant_id = {t} AND id = (SELECT id FROM records WHERE tenant_id = {t} ORDER BY id LIMIT 1)",
        ),
      ),
    names:
      /record collections\/people\/records\/[0-9a-f-]+ does not match its ledger commitment \(entry seq \d+\)/,
  },
  {
    name: 'a record inserted outside the API',
    attack: (t, b) =>
      t.tenant(
        sqlite(
          b,
          "INSERT INTO records (collection, id, data, version, created_at, updated_at) SELECT collection, '01900000-0000-7000-8000-000000000000', data, 1, created_at, updated_at FROM records LIMIT 1",
          "INSERT INTO records (tenant_id, collection, id, data, version, created_at, updated_at) SELECT tenant_id, collection, '01900000-0000-7000-8000-000000000000', data, 1, created_at, updated_at FROM records WHERE tenant_id = {t} LIMIT 1",
        ),
      ),
    names: /has no ledger entry: it was written outside the API/,
  },
  {
    name: "the tenant checkpoint's signature",
    attack: (t) =>
      t.platform(
        "UPDATE platform_log_leaves SET note = replace(note, substr(note, length(note) - 8, 4), 'AAAA') WHERE idx = (SELECT max(idx) FROM platform_log_leaves)",
      ),
    names: /signature|no signature from a known key/,
  },
  {
    name: "the platform checkpoint's ML-DSA-44 line removed",
    attack: (t, b) =>
      t.platform(
        sqlite(
          b,
          'UPDATE platform_checkpoints SET note = substr(note, 1, instr(substr(note, instr(note, char(10) || char(10)) + 2), char(10)) + instr(note, char(10) || char(10)) + 1) WHERE size = (SELECT max(size) FROM platform_checkpoints)',
          "UPDATE platform_checkpoints SET note = substring(note from 1 for position(E'\\n\\n' in note) + 1) || split_part(substring(note from position(E'\\n\\n' in note) + 2), E'\\n', 1) || E'\\n' WHERE size = (SELECT max(size) FROM platform_checkpoints)",
        ),
      ),
    names: /lacks a valid signature from trusted key/,
  },
];

for (const backend of backendNames()) {
  describe(`tampering with the stored ledger is caught and named, on ${backend}`, () => {
    let api: TestApi;
    before(async () => {
      api = await TestApi.start(backend, { ledgerSealIntervalMs: '3600000' });
    });
    after(() => api.close());

    async function tenantWithHistory(slug: string) {
      const t = await api.tenant(slug);
      await api.call('PUT', '/v1/collections/people', t.key, { schema: PEOPLE_SCHEMA });
      for (let i = 0; i < 12; i++) {
        const r = await api.call('POST', '/v1/collections/people/records', t.key, {
          name: `P${i}`,
          age: i,
        });
        if (i % 3 === 0)
          await api.call('PATCH', `/v1/collections/people/records/${r.body.id}`, t.key, {
            age: i + 100,
          });
      }
      const shard = (await api.platform.stores.controlPlane.getTenant(t.id))!.shard;
      return { ...t, shard };
    }

    async function verify(key: string) {
      const bundle = (await api.call('GET', '/v1/ledger/export', key)).body as LedgerBundle;
      const keys = (await api.call('GET', '/v1/platform/ledger/keys', undefined)).body
        .keys as string[];
      return verifyBundle(
        nodeHasher,
        bundle,
        keys.map((k) => parseVerifierKey(k, nodeVerifyProvider)),
      );
    }

    test('untouched data verifies', async () => {
      const t = await tenantWithHistory('untouched');
      const summary = await verify(t.key);
      assert.equal(summary.records, 12);
      assert.equal(summary.platformSigners.length, 2);
    });

    test('records with encrypted fields verify against their committed (ciphertext) form', async () => {
      const t = await api.tenant('encrypted');
      const schema = {
        type: 'object',
        properties: { name: { type: 'string' }, ssn: { type: 'string' } },
      };
      await api.call('PUT', '/v1/collections/patients', t.key, { schema, encrypted: ['ssn'] });
      const created = await api.call('POST', '/v1/collections/patients/records', t.key, {
        name: 'Ada',
        ssn: '123-45-6789',
      });
      assert.equal((await verify(t.key)).records, 1);
      const proof = (
        await api.call('GET', `/v1/collections/patients/records/${created.body.id}/proof`, t.key)
      ).body;
      verifyStateCommitment(
        nodeHasher.sha256,
        proof.entry.commitment,
        fromBase64Url(proof.salt)!,
        proof.state,
      );
      assert.ok(
        !JSON.stringify(proof).includes('123-45-6789'),
        'the proof carries ciphertext, not the secret',
      );
    });

    for (const c of CASES) {
      test(`${c.name} → verification fails and names it`, async () => {
        const t = await tenantWithHistory(`t-${CASES.indexOf(c)}`);
        await verify(t.key);
        const tamperer =
          backend === 'sqlite'
            ? sqliteTamperer(api, t.id, t.shard)
            : postgresTamperer(api, t.id, t.shard);
        await c.attack(tamperer, backend);
        await assert.rejects(verify(t.key), (error) => {
          assert.ok(isLedgerError(error), String(error));
          assert.match(error.message, c.names);
          return true;
        });
      });
    }
  });
}
