import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isUuid } from '../../ids/index.ts';
import { droppedTenant } from '../tenant-rows.ts';
import type { ShardStore, TenantStore } from '../types.ts';
import { fsyncPath } from './backup-manifest.ts';
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
 * Beside a dropped tenant's file, `<tenant id>.db.dropped`: an empty file, kept for good, that
 * no later store on the folder (after a restart) opens the tenant's file past, so it is never
 * made again.
 */
const TOMBSTONE = '.dropped';

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

  /**
   * The tenant's one open store, opening (and migrating) its file if it is not open; never
   * the file of a tenant this store, or one before it on the folder, dropped.
   */
  #live(tenantId: string): SqliteTenantStore {
    if (this.#dropped.has(tenantId)) throw droppedTenant(tenantId, this.id);
    const cached = this.#open.get(tenantId);
    if (cached !== undefined) {
      this.#open.delete(tenantId);
      this.#open.set(tenantId, cached);
      return cached;
    }
    const path = this.#path(tenantId);
    if (existsSync(`${path}${TOMBSTONE}`)) {
      this.#dropped.add(tenantId);
      throw droppedTenant(tenantId, this.id);
    }
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

  /**
   * Closes the tenant's file once the transactions queued on it have ended (later ones are
   * refused), leaves its tombstone, then removes the file.
   */
  async dropTenant(tenantId: string): Promise<void> {
    const path = this.#path(tenantId);
    // First, so a caller that read the tenant as live before cannot open (make) its file again.
    this.#dropped.add(tenantId);
    const refusal = droppedTenant(tenantId, this.id);
    const stores = [...this.#evicted].filter((store) => store.tenantId === tenantId);
    for (const store of stores) this.#evicted.delete(store);
    const open = this.#open.get(tenantId);
    this.#open.delete(tenantId);
    const closed = Promise.all([...stores, open].map((store) => store?.drop(refusal)));
    try {
      await writeFile(`${path}${TOMBSTONE}`, '');
      await fsyncPath(`${path}${TOMBSTONE}`);
    } finally {
      await closed;
    }
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
    await fsyncPath(this.location);
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
