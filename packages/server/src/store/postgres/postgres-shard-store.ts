import pg from 'pg';
import { droppedTenant } from '../tenant-rows.ts';
import type { ShardStore, TenantStore } from '../types.ts';
import { migratePostgres } from './postgres-migrate.ts';
import { dropTenantRows, PostgresTenantStore } from './postgres-tenant-store.ts';
import { shardMigrations } from './shard-migrations.ts';
import { dropTelemetryPartitions } from './telemetry-partition-drop.ts';
import {
  createTelemetryPartitions,
  type PartitionFailure,
  type TelemetryWindow,
} from './telemetry-partitions.ts';

/** The same URL, connecting as another role (the database's auth decides whether that is allowed). */
export function asRole(url: string, role: string, password?: string): string {
  const parsed = new URL(url);
  parsed.username = role;
  parsed.password = password ?? '';
  return parsed.toString();
}

/**
 * A PostgreSQL database holding many tenants' rows. Migrations run as the URL's own
 * (owning) role; every tenant query runs as the runtime role, which owns nothing and cannot
 * bypass row-level security.
 */
export class PostgresShardStore implements ShardStore {
  readonly id: string;
  readonly location: string;
  readonly #pool: pg.Pool;
  /**
   * Tenants dropped since this store opened: a caller that saw one live gets no handle on it
   * (a write through a handle taken before, or in another process, finds its tombstone).
   */
  readonly #dropped = new Set<string>();
  readonly #runtimeRole: string;

  private constructor(id: string, url: string, runtimeRole: string, poolSize: number) {
    this.id = id;
    this.location = url;
    this.#runtimeRole = runtimeRole;
    this.#pool = new pg.Pool({
      connectionString: asRole(url, runtimeRole, process.env.PALISADE_POSTGRES_RUNTIME_PASSWORD),
      max: poolSize,
    });
    this.#pool.on('error', () => undefined);
  }

  /** Migrates the shard (as its owner) and opens the runtime pool. */
  static async open(
    id: string,
    url: string,
    runtimeRole: string,
    poolSize: number,
  ): Promise<PostgresShardStore> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await migratePostgres(client, 'shard', shardMigrations(runtimeRole));
    } finally {
      await client.end();
    }
    return new PostgresShardStore(id, url, runtimeRole, poolSize);
  }

  get runtimeRole(): string {
    return this.#runtimeRole;
  }

  async tenant(tenantId: string): Promise<TenantStore> {
    if (this.#dropped.has(tenantId)) throw droppedTenant(tenantId, this.id);
    return new PostgresTenantStore(this.#pool, this.id, tenantId);
  }

  /**
   * Removes the tenant's rows, as the owning role, and leaves its tombstone, which every write
   * transaction of it, in any process, is refused by from then on (see `dropTenantRows`).
   */
  async dropTenant(tenantId: string): Promise<void> {
    this.#dropped.add(tenantId);
    await this.#asOwner((owner) => dropTenantRows(owner, tenantId));
  }

  async createTelemetryPartitions(window: TelemetryWindow): Promise<readonly PartitionFailure[]> {
    return (await this.#asOwner((owner) => createTelemetryPartitions(owner, window))).failed;
  }

  async dropTelemetryPartitions(window: TelemetryWindow): Promise<void> {
    await this.#asOwner((owner) => dropTelemetryPartitions(owner, window.dropBefore));
  }

  async #asOwner<T>(work: (owner: pg.Client) => Promise<T>): Promise<T> {
    const owner = new pg.Client({ connectionString: this.location });
    await owner.connect();
    try {
      return await work(owner);
    } finally {
      await owner.end();
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
