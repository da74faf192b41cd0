import type { Logger } from 'pino';
import type { GroupCommitter } from '../commit/index.ts';
import type { ControlPlaneStore, ShardStore } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';

const DAY_MS = 86_400_000;
/** Average month length, for how far ahead partitions are made. */
const MONTH_MS = 31 * DAY_MS;
const TENANT_PAGE = 1000;

export interface RetentionOptions {
  readonly controlPlane: ControlPlaneStore;
  readonly shards: ReadonlyMap<string, ShardStore>;
  readonly committer: GroupCommitter;
  /** `PLAN=DAYS` entries; `*` matches any plan not named. */
  readonly retention: readonly string[];
  readonly intervalMs: number;
  /** Most points one transaction deletes (telemetryRetentionBatchMax). */
  readonly batchMax: number;
  readonly maxPastMs: number;
  readonly monthsAhead: number;
  readonly logger?: Logger | undefined;
}

/** Days a plan keeps when neither it nor `*` is named in the setting. */
const DEFAULT_RETENTION_DAYS = 365;

/** How long each plan keeps telemetry, from the `telemetryRetention` setting. */
interface RetentionPolicy {
  readonly daysOf: (plan: string) => number;
  /** The most days any plan keeps, a plan not named included: older points are no one's. */
  readonly longestDays: number;
}

function retentionPolicy(entries: readonly string[]): RetentionPolicy {
  const days = new Map(
    entries.map((entry) => {
      const [plan, value] = entry.split('=');
      return [plan!, Number(value)];
    }),
  );
  const fallback = days.get('*') ?? DEFAULT_RETENTION_DAYS;
  return {
    daysOf: (plan) => days.get(plan) ?? fallback,
    longestDays: Math.max(fallback, ...days.values()),
  };
}

/**
 * The retention job: per tenant, deletes points older than its plan keeps, at most
 * `batchMax` a transaction (each with a ledger entry saying how many and before when, so a
 * tenant's writes wait for no giant transaction), and expires overdue RPC requests; per
 * PostgreSQL shard,
 * creates monthly partitions ahead and drops those older than every plan keeps.
 */
export class TelemetryRetention {
  readonly #options: RetentionOptions;
  readonly #policy: RetentionPolicy;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: RetentionOptions) {
    this.#options = options;
    this.#policy = retentionPolicy(options.retention);
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
    for (const [name, shard] of this.#options.shards) {
      await shard
        .maintainTelemetry?.({
          from: now - this.#options.maxPastMs,
          to: now + this.#options.monthsAhead * MONTH_MS,
          dropBefore: now - this.#policy.longestDays * DAY_MS,
        })
        .catch((error: unknown) =>
          this.#options.logger?.warn(
            { err: error, shard: name },
            'telemetry partition maintenance of a shard failed',
          ),
        );
    }
  }

  async #tenant(tenant: Tenant, now: number): Promise<void> {
    const shard = this.#options.shards.get(tenant.shard);
    if (shard === undefined) return;
    const before = now - this.#policy.daysOf(tenant.plan) * DAY_MS;
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
