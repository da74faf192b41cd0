import pg from 'pg';
import { droppedTenant } from '../tenant-rows.ts';
import type { ShardStore, TenantStore } from '../types.ts';
import { migratePostgres } from './postgres-migrate.ts';
import { inTenantTransaction, PostgresTenantStore } from './postgres-tenant-store.ts';
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
  /** Tenants dropped since this store opened: a caller that saw one live gets no handle on it. */
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
    return new PostgresTenantStore(this.#pool, tenantId);
  }

  /**
   * Removes the tenant's rows: data as the runtime role, then the append-only ledger as the
   * owning role (the runtime role cannot delete ledger rows, by design).
   */
  async dropTenant(tenantId: string): Promise<void> {
    this.#dropped.add(tenantId);
    await inTenantTransaction(this.#pool, tenantId, 'READ WRITE', (queries) => queries.purge());
    const owner = new pg.Client({ connectionString: this.location });
    await owner.connect();
    try {
      // FORCEd row-level security binds the owner too, unless it is a superuser.
      await owner.query(`BEGIN; SELECT set_config('app.tenant_id', '${tenantId}', true)`);
      for (const table of ['ledger_entries', 'ledger_batches', 'ledger_nodes']) {
        await owner.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [tenantId]);
      }
      await owner.query('COMMIT');
    } finally {
      await owner.end();
    }
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
