import type { Logger } from 'pino';
import type { GroupCommitter } from '../commit/index.ts';
import type { ControlPlaneStore, ShardStore } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import type { TelemetryPartitionUpkeep } from './telemetry-partition-upkeep.ts';
import { DAY_MS, type RetentionPolicy } from './telemetry-retention-policy.ts';

const TENANT_PAGE = 1000;

export interface RetentionOptions {
  readonly controlPlane: ControlPlaneStore;
  readonly shards: ReadonlyMap<string, ShardStore>;
  readonly committer: GroupCommitter;
  readonly policy: RetentionPolicy;
  readonly intervalMs: number;
  /** Most points one transaction deletes (telemetryRetentionBatchMax). */
  readonly batchMax: number;
  readonly partitions: TelemetryPartitionUpkeep;
  readonly logger?: Logger | undefined;
}

/**
 * The retention job: per tenant, deletes points older than its plan keeps, at most
 * `batchMax` a transaction (each with a ledger entry saying how many and before when, so a
 * tenant's writes wait for no giant transaction), and expires overdue RPC requests; then
 * keeps each PostgreSQL shard's monthly partitions (TelemetryPartitionUpkeep).
 */
export class TelemetryRetention {
  readonly #options: RetentionOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: RetentionOptions) {
    this.#options = options;
  }

  start(): void {
    const pass = () =>
      this.run().catch((error: unknown) =>
        this.#options.logger?.warn({ err: error }, 'telemetry retention failed'),
      );
    this.#timer = setInterval(pass, this.#options.intervalMs);
    this.#timer.unref();
    void pass();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  /** One pass at `now`; concurrent calls share the pass in progress. */
  run(now: number = Date.now()): Promise<void> {
    this.#running ??= this.#pass(now).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #pass(now: number): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const page = await this.#options.controlPlane.listTenants({ after, limit: TENANT_PAGE });
      for (const tenant of page) {
        if (tenant.status === 'deleted') continue;
        // One tenant that fails (its file or shard unreachable) holds up no other, nor the
        // partitions; it is tried again at the next pass.
        await this.#tenant(tenant, now).catch((error: unknown) =>
          this.#options.logger?.warn(
            { err: error, tenant: tenant.id },
            'telemetry retention of a tenant failed',
          ),
        );
      }
      if (page.length < TENANT_PAGE) break;
      after = page.at(-1)!.id;
    }
    await this.#options.partitions.run(now);
  }

  async #tenant(tenant: Tenant, now: number): Promise<void> {
    const shard = this.#options.shards.get(tenant.shard);
    if (shard === undefined) return;
    const before = now - this.#options.policy.daysOf(tenant.plan) * DAY_MS;
    const store = await shard.tenant(tenant.id);
    const { batchMax } = this.#options;
    let full = true;
    while (full) {
      full = false;
      await this.#options.committer.submit(store, async (tx, record) => {
        const deleted = await tx.devices.deletePointsBefore(before, batchMax);
        full = deleted === batchMax;
        const expired = await tx.devices.expireRpcs(new Date(now).toISOString());
        if (deleted === 0 && expired === 0) return;
        record({
          actor: 'platform:retention',
          action: 'telemetry.retention',
          resource: 'telemetry/_retention',
          state: { before, deleted, expiredRpcs: expired },
        });
      });
    }
  }
}
