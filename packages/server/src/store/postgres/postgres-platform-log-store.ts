import type { NodeKey } from '@palisade/ledger';
import pg from 'pg';
import {
  type KeyChangeDbRow,
  type LeafDbRow,
  toKeyChange,
  toSealedCheckpoint,
} from '../platform-log-rows.ts';
import type {
  LedgerKeyChange,
  PlatformCheckpointRow,
  PlatformLogStore,
  PlatformSeal,
  SealedTenantCheckpoint,
} from '../platform-log-store.ts';
import { inPoolTransaction } from './pool-transaction.ts';
import { migratePostgres, type PgMigration } from './postgres-migrate.ts';

const MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE platform_log_leaves (
        idx bigint PRIMARY KEY,
        tenant_id uuid NOT NULL,
        tenant_size bigint NOT NULL,
        text text NOT NULL,
        note text NOT NULL
      );
      CREATE INDEX platform_log_leaves_by_tenant ON platform_log_leaves (tenant_id, idx);
      CREATE TABLE platform_log_nodes (level int NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (level, idx));
      CREATE TABLE platform_checkpoints (size bigint PRIMARY KEY, note text NOT NULL);
    `,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE platform_key_changes (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        size bigint NOT NULL,
        previous_note text NOT NULL,
        vkeys text NOT NULL,
        at text NOT NULL
      );
    `,
  },
];

/** The scale-out platform log, in the control-plane database. */
export class PostgresPlatformLogStore implements PlatformLogStore {
  readonly #url: string;
  readonly #pool: pg.Pool;

  constructor(url: string, poolSize: number) {
    this.#url = url;
    this.#pool = new pg.Pool({ connectionString: url, max: Math.min(poolSize, 4) });
    this.#pool.on('error', () => undefined);
  }

  async migrate(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url });
    await client.connect();
    try {
      await migratePostgres(client, 'platform-log', MIGRATIONS);
    } finally {
      await client.end();
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async size(): Promise<number> {
    const result = await this.#pool.query<{ n: number }>(
      'SELECT coalesce(max(idx) + 1, 0)::float8 AS n FROM platform_log_leaves',
    );
    return result.rows[0]!.n;
  }

  async readNodes(keys: readonly NodeKey[]): Promise<Uint8Array[]> {
    if (keys.length === 0) return [];
    const result = await this.#pool.query<{ level: number; idx: number; hash: Buffer }>(
      `SELECT n.level, n.idx::float8 AS idx, n.hash FROM platform_log_nodes n
       JOIN unnest($1::int[], $2::int8[]) AS k (level, idx) ON n.level = k.level AND n.idx = k.idx`,
      [keys.map((k) => k.level), keys.map((k) => k.index)],
    );
    const found = new Map(result.rows.map((r) => [`${r.level}/${r.idx}`, r.hash]));
    return keys.map((key) => {
      const hash = found.get(`${key.level}/${key.index}`);
      if (hash === undefined)
        throw new Error(`platform log node ${key.level}/${key.index} is missing`);
      return hash;
    });
  }

  async appendSeal(seal: PlatformSeal): Promise<void> {
    await inPoolTransaction(this.#pool, async (client) => {
      const l = seal.leaves;
      await client.query(
        `INSERT INTO platform_log_leaves (idx, tenant_id, tenant_size, text, note)
         SELECT * FROM unnest($1::int8[], $2::uuid[], $3::int8[], $4::text[], $5::text[])`,
        [
          l.map((x) => x.index),
          l.map((x) => x.tenantId),
          l.map((x) => x.tenantSize),
          l.map((x) => x.text),
          l.map((x) => x.note),
        ],
      );
      const n = seal.nodes;
      await client.query(
        'INSERT INTO platform_log_nodes (level, idx, hash) SELECT * FROM unnest($1::int[], $2::int8[], $3::bytea[])',
        [n.map((x) => x.level), n.map((x) => x.index), n.map((x) => Buffer.from(x.hash))],
      );
      await client.query('INSERT INTO platform_checkpoints (size, note) VALUES ($1, $2)', [
        seal.checkpoint.size,
        seal.checkpoint.note,
      ]);
    });
  }

  async latestCheckpoint(): Promise<PlatformCheckpointRow | undefined> {
    const result = await this.#pool.query<PlatformCheckpointRow>(
      'SELECT size::float8 AS size, note FROM platform_checkpoints ORDER BY size DESC LIMIT 1',
    );
    return result.rows[0];
  }

  async replaceCheckpointNote(size: number, note: string): Promise<void> {
    await this.#pool.query('UPDATE platform_checkpoints SET note = $1 WHERE size = $2', [
      note,
      size,
    ]);
  }

  async latestTenantCheckpoint(tenantId: string): Promise<SealedTenantCheckpoint | undefined> {
    const result = await this.#pool.query<LeafDbRow>(
      `SELECT idx::float8 AS idx, tenant_id, tenant_size::float8 AS tenant_size, text, note
       FROM platform_log_leaves WHERE tenant_id = $1 ORDER BY idx DESC LIMIT 1`,
      [tenantId],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toSealedCheckpoint(row);
  }

  async sealedTenantSizes(): Promise<Map<string, number>> {
    const result = await this.#pool.query<{ tenant_id: string; size: number }>(
      'SELECT tenant_id, max(tenant_size)::float8 AS size FROM platform_log_leaves GROUP BY tenant_id',
    );
    return new Map(result.rows.map((r) => [r.tenant_id, r.size]));
  }

  async appendKeyChange(change: LedgerKeyChange): Promise<void> {
    await this.#pool.query(
      'INSERT INTO platform_key_changes (size, previous_note, vkeys, at) VALUES ($1, $2, $3, $4)',
      [change.size, change.previousNote, JSON.stringify(change.vkeys), change.at],
    );
  }

  async keyChanges(): Promise<LedgerKeyChange[]> {
    const result = await this.#pool.query<KeyChangeDbRow>(
      'SELECT size::float8 AS size, previous_note, vkeys, at FROM platform_key_changes ORDER BY id',
    );
    return result.rows.map(toKeyChange);
  }
}
