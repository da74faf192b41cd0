import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isUuid } from '../../ids/index.ts';
import { droppedTenant } from '../tenant-rows.ts';
import type { ShardStore, TenantStore } from '../types.ts';
import { migrateSqlite, openSqlite } from './sqlite-database.ts';
import { SqliteTenantStore } from './sqlite-tenant-store.ts';
import { TENANT_MIGRATIONS } from './tenant-migrations.ts';

/**
 * WAL pages a tenant file's writer lets accumulate before it checkpoints (SQLite's default is
 * 1,000). A checkpoint copies each page once however many commits changed it, and under
 * ingest every commit changes the same latest-value, index and ledger pages again, so a
 * longer WAL copies and fsyncs far fewer pages; the WAL file grows to about 16 MB.
 */
const TENANT_WAL_CHECKPOINT_PAGES = 4000;

/**
 * A shard folder `DATA/shards/<id>/` holding one SQLite file per tenant. Open files are kept
 * in a bounded least-recently-used cache; a file is migrated the first time it is opened.
 */
export class SqliteShardStore implements ShardStore {
  readonly id: string;
  readonly location: string;
  readonly #maxOpen: number;
  readonly #open = new Map<string, SqliteTenantStore>();
  /** Evicted stores whose readers are still open for callers that took them before. */
  readonly #evicted = new Set<SqliteTenantStore>();
  /** Tenants dropped since this store opened: their files are never made again. */
  readonly #dropped = new Set<string>();

  constructor(id: string, folder: string, maxOpen: number) {
    this.id = id;
    this.location = folder;
    this.#maxOpen = maxOpen;
    mkdirSync(folder, { recursive: true });
  }

  #path(tenantId: string): string {
    // The id is a UUID made by the control plane; the check keeps any other string off the file system.
    if (!isUuid(tenantId)) throw new TypeError('tenant id must be a UUID');
    return join(this.location, `${tenantId}.db`);
  }

  async tenant(tenantId: string): Promise<TenantStore> {
    return this.#live(tenantId);
  }

  /** The tenant's one open store, opening (and migrating) its file if it is not open. */
  #live(tenantId: string): SqliteTenantStore {
    if (this.#dropped.has(tenantId)) throw droppedTenant(tenantId, this.id);
    const cached = this.#open.get(tenantId);
    if (cached !== undefined) {
      this.#open.delete(tenantId);
      this.#open.set(tenantId, cached);
      return cached;
    }
    const path = this.#path(tenantId);
    const writer = openSqlite(path);
    writer.exec(`PRAGMA wal_autocheckpoint = ${TENANT_WAL_CHECKPOINT_PAGES}`);
    migrateSqlite(writer, TENANT_MIGRATIONS);
    const store = new SqliteTenantStore(
      tenantId,
      writer,
      openSqlite(path, { readOnly: true }),
      () => this.#live(tenantId),
    );
    this.#open.set(tenantId, store);
    this.#evict();
    return store;
  }

  /** Closes least recently used files with no transaction queued, down to the bound. */
  #evict(): void {
    for (const [id, store] of this.#open) {
      if (this.#open.size <= this.#maxOpen) return;
      if (store.busy) continue;
      this.#open.delete(id);
      this.#evicted.add(store);
      store.evict(() => this.#evicted.delete(store));
    }
  }

  async dropTenant(tenantId: string): Promise<void> {
    const path = this.#path(tenantId);
    // First, so a caller that read the tenant as live before cannot open (make) its file again.
    this.#dropped.add(tenantId);
    for (const store of this.#evicted) {
      if (store.tenantId !== tenantId) continue;
      this.#evicted.delete(store);
      store.close();
    }
    const store = this.#open.get(tenantId);
    if (store !== undefined) {
      // Wait for a transaction in flight, then close before unlinking.
      await store.transaction(async () => undefined);
      this.#open.delete(tenantId);
      store.close();
    }
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  }

  async close(): Promise<void> {
    for (const store of this.#evicted) store.close();
    this.#evicted.clear();
    for (const store of this.#open.values()) {
      await store.transaction(async () => undefined);
      store.close();
    }
    this.#open.clear();
  }
}
