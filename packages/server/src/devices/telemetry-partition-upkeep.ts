import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { PartitionFailure, ShardStore, TelemetryWindow } from '../store/index.ts';
import { DAY_MS } from './telemetry-retention-policy.ts';

/** Average month length, for how far ahead partitions are made. */
const MONTH_MS = 31 * DAY_MS;

export interface PartitionUpkeepOptions {
  readonly shards: ReadonlyMap<string, ShardStore>;
  /** The most days any plan keeps telemetry: partitions past it are dropped. */
  readonly longestDays: number;
  readonly maxPastMs: number;
  readonly maxFutureMs: number;
  readonly monthsAhead: number;
  /** How often the retention job runs: the partitions made must last until the next pass. */
  readonly intervalMs: number;
  readonly logger?: Logger | undefined;
  readonly metrics?: Registry | undefined;
}

type Operation = 'create' | 'drop';

/**
 * PostgreSQL's monthly telemetry partitions, per shard: made from the oldest point a shard may
 * hold to as far ahead as a point may be (and `telemetryPartitionMonthsAhead`), dropped once
 * past every plan's retention. A shard without partitions (SQLite) is skipped. A failure is
 * logged with what to do and counted in `palisade_telemetry_partition_failures_total`; the next
 * pass tries again.
 */
export class TelemetryPartitionUpkeep {
  readonly #options: PartitionUpkeepOptions;
  readonly #failures: Counter<'shard' | 'operation'>;

  constructor(options: PartitionUpkeepOptions) {
    this.#options = options;
    this.#failures = new Counter({
      name: 'palisade_telemetry_partition_failures_total',
      help: 'PostgreSQL telemetry partitions that could not be made (create) or dropped (drop), by shard',
      labelNames: ['shard', 'operation'],
      registers: options.metrics === undefined ? [] : [options.metrics],
    });
    for (const [shard, store] of options.shards)
      if (store.createTelemetryPartitions !== undefined)
        for (const operation of ['create', 'drop'] as const)
          this.#failures.inc({ shard, operation }, 0);
  }

  /** Makes the partitions this process's ingest needs now; run before it takes any. */
  async prepare(now: number = Date.now()): Promise<void> {
    for (const [name, shard] of this.#options.shards) await this.#create(name, shard, now);
  }

  /** One pass: makes the partitions ahead, then drops the expired ones. */
  async run(now: number): Promise<void> {
    for (const [name, shard] of this.#options.shards) {
      await this.#create(name, shard, now);
      await shard
        .dropTelemetryPartitions?.(this.#window(now))
        .catch((error: unknown) => this.#failed(name, 'drop', error));
    }
  }

  #window(now: number): TelemetryWindow {
    const { maxPastMs, maxFutureMs, monthsAhead, intervalMs, longestDays } = this.#options;
    return {
      from: now - maxPastMs,
      to: now + Math.max(monthsAhead * MONTH_MS, maxFutureMs + intervalMs),
      dropBefore: now - longestDays * DAY_MS,
    };
  }

  async #create(name: string, shard: ShardStore, now: number): Promise<void> {
    let failed: readonly PartitionFailure[] | undefined;
    try {
      failed = await shard.createTelemetryPartitions?.(this.#window(now));
    } catch (error) {
      this.#failed(name, 'create', error);
      return;
    }
    for (const { partition, error } of failed ?? []) this.#failed(name, 'create', error, partition);
  }

  #failed(shard: string, operation: Operation, error: unknown, partition?: string): void {
    this.#failures.inc({ shard, operation });
    this.#options.logger?.error(
      { err: error, shard, partition },
      operation === 'create'
        ? "telemetry: a partition could not be made, so points of its month are refused (PALISADE_TELEMETRY_PARTITION_MISSING); fix the cause in `err` (the shard URL's role must be able to create tables; a table of that name that is no partition must be moved away), the retention job tries again every telemetryRetentionIntervalMs"
        : 'telemetry: expired partitions could not be dropped; fix the cause in `err`, the retention job tries again every telemetryRetentionIntervalMs (a partition left "detach pending" is finalized then)',
    );
  }
}
