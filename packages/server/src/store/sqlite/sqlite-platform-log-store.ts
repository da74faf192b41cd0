import type { DatabaseSync } from 'node:sqlite';
import type { NodeKey } from '@palisade/ledger';
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
import { type Migration, migrateSqlite, openSqlite } from './sqlite-database.ts';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE platform_log_leaves (
        idx INTEGER PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        tenant_size INTEGER NOT NULL,
        text TEXT NOT NULL,
        note TEXT NOT NULL
      ) STRICT;
      CREATE INDEX platform_log_leaves_by_tenant ON platform_log_leaves (tenant_id, idx);
      CREATE TABLE platform_log_nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE platform_checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL) STRICT;
      CREATE TRIGGER platform_log_leaves_append_only BEFORE UPDATE ON platform_log_leaves
        BEGIN SELECT RAISE(ABORT, 'the platform log is append-only'); END;
      CREATE TRIGGER platform_log_nodes_append_only BEFORE UPDATE ON platform_log_nodes
        BEGIN SELECT RAISE(ABORT, 'the platform log is append-only'); END;
    `,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE platform_key_changes (
        id INTEGER PRIMARY KEY,
        size INTEGER NOT NULL,
        previous_note TEXT NOT NULL,
        vkeys TEXT NOT NULL,
        at TEXT NOT NULL
      ) STRICT;
      CREATE TRIGGER platform_key_changes_append_only BEFORE UPDATE ON platform_key_changes
        BEGIN SELECT RAISE(ABORT, 'the platform log is append-only'); END;
      CREATE TRIGGER platform_key_changes_kept BEFORE DELETE ON platform_key_changes
        BEGIN SELECT RAISE(ABORT, 'the platform log is append-only'); END;
    `,
  },
];

/** The embedded platform log: `DATA/platform-log.db`, beside the control plane. */
export class SqlitePlatformLogStore implements PlatformLogStore {
  readonly #db: DatabaseSync;

  constructor(path: string) {
    this.#db = openSqlite(path);
  }

  async migrate(): Promise<void> {
    migrateSqlite(this.#db, MIGRATIONS);
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }

  async size(): Promise<number> {
    return (
      this.#db.prepare('SELECT coalesce(max(idx) + 1, 0) AS n FROM platform_log_leaves').get() as {
        n: number;
      }
    ).n;
  }

  async readNodes(keys: readonly NodeKey[]): Promise<Uint8Array[]> {
    const statement = this.#db.prepare(
      'SELECT hash FROM platform_log_nodes WHERE level = ? AND idx = ?',
    );
    return keys.map((key) => {
      const row = statement.get(key.level, key.index) as { hash: Uint8Array } | undefined;
      if (row === undefined)
        throw new Error(`platform log node ${key.level}/${key.index} is missing`);
      return row.hash;
    });
  }

  async appendSeal(seal: PlatformSeal): Promise<void> {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const leaf = this.#db.prepare(
        'INSERT INTO platform_log_leaves (idx, tenant_id, tenant_size, text, note) VALUES (?, ?, ?, ?, ?)',
      );
      for (const l of seal.leaves) leaf.run(l.index, l.tenantId, l.tenantSize, l.text, l.note);
      const node = this.#db.prepare(
        'INSERT INTO platform_log_nodes (level, idx, hash) VALUES (?, ?, ?)',
      );
      for (const n of seal.nodes) node.run(n.level, n.index, n.hash);
      this.#db
        .prepare('INSERT INTO platform_checkpoints (size, note) VALUES (?, ?)')
        .run(seal.checkpoint.size, seal.checkpoint.note);
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  async latestCheckpoint(): Promise<PlatformCheckpointRow | undefined> {
    return this.#db
      .prepare('SELECT size, note FROM platform_checkpoints ORDER BY size DESC LIMIT 1')
      .get() as PlatformCheckpointRow | undefined;
  }

  async replaceCheckpointNote(size: number, note: string): Promise<void> {
    this.#db.prepare('UPDATE platform_checkpoints SET note = ? WHERE size = ?').run(note, size);
  }

  async latestTenantCheckpoint(tenantId: string): Promise<SealedTenantCheckpoint | undefined> {
    const row = this.#db
      .prepare(
        'SELECT idx, tenant_id, tenant_size, text, note FROM platform_log_leaves WHERE tenant_id = ? ORDER BY idx DESC LIMIT 1',
      )
      .get(tenantId) as LeafDbRow | undefined;
    return row === undefined ? undefined : toSealedCheckpoint(row);
  }

  async sealedTenantSizes(): Promise<Map<string, number>> {
    const rows = this.#db
      .prepare(
        'SELECT tenant_id, max(tenant_size) AS size FROM platform_log_leaves GROUP BY tenant_id',
      )
      .all() as unknown as { tenant_id: string; size: number }[];
    return new Map(rows.map((r) => [r.tenant_id, r.size]));
  }

  async appendKeyChange(change: LedgerKeyChange): Promise<void> {
    this.#db
      .prepare(
        'INSERT INTO platform_key_changes (size, previous_note, vkeys, at) VALUES (?, ?, ?, ?)',
      )
      .run(change.size, change.previousNote, JSON.stringify(change.vkeys), change.at);
  }

  async keyChanges(): Promise<LedgerKeyChange[]> {
    const rows = this.#db
      .prepare('SELECT size, previous_note, vkeys, at FROM platform_key_changes ORDER BY id')
      .all() as unknown as KeyChangeDbRow[];
    return rows.map(toKeyChange);
  }
}
