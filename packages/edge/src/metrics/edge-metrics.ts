import { Counter, Gauge, Registry } from 'prom-client';
import type { QuarantineCounts } from '../outbox-quarantine.ts';

/** Width of the window the drain rate is measured over. */
export const DRAIN_WINDOW_MS = 60_000;

/** What the metrics read from the outbox at each scrape. */
export interface BacklogSource {
  /** Messages waiting to be sent (not those in quarantine). */
  waiting(): number;
  /** Unix ms of the oldest waiting message, or null when none waits. */
  oldest(): number | null;
  readonly quarantine: { counts(): QuarantineCounts };
}

/**
 * Prometheus metrics of an edge node, labelled by kind, reason, outcome or alert name,
 * never by device. Backlog size and age are read from the outbox at scrape time, so they
 * are exact; the drain rate is the messages the platform confirmed over the last minute.
 */
export class EdgeMetrics {
  readonly registry = new Registry();
  readonly accepted: Counter<'kind'>;
  readonly refused: Counter<'reason'>;
  readonly filtered: Counter;
  readonly batches: Counter<'outcome'>;
  readonly synced: Counter;
  readonly lastSync: Gauge;
  readonly linkUp: Gauge;
  readonly alerts: Counter<'alert' | 'state'>;
  readonly rules: Gauge;
  readonly rpc: Counter<'event'>;
  readonly rpcPending: Gauge;
  readonly #confirmed: { at: number; messages: number }[] = [];
  readonly #now: () => number;

  constructor(backlog: BacklogSource, now: () => number = Date.now) {
    const registers = [this.registry];
    new Gauge({
      name: 'palisade_edge_backlog_messages',
      help: 'Messages in the outbox waiting for the platform to confirm them',
      registers,
      collect() {
        this.set(backlog.waiting());
      },
    });
    for (const unit of ['batches', 'messages'] as const)
      new Gauge({
        name: `palisade_edge_quarantined_${unit}`,
        help: `${unit === 'batches' ? 'Batches' : 'Messages'} the platform refused for good, set aside until the operator retries or discards them`,
        registers,
        collect() {
          this.set(backlog.quarantine.counts()[unit]);
        },
      });
    new Gauge({
      name: 'palisade_edge_backlog_oldest_age_seconds',
      help: 'Age of the oldest message in the outbox (0 when empty)',
      registers,
      collect() {
        const oldest = backlog.oldest();
        this.set(oldest === null ? 0 : Math.max(0, (now() - oldest) / 1000));
      },
    });
    this.accepted = new Counter({
      name: 'palisade_edge_messages_accepted_total',
      help: 'Messages written to the outbox, by kind (telemetry, alert)',
      labelNames: ['kind'],
      registers,
    });
    this.refused = new Counter({
      name: 'palisade_edge_messages_refused_total',
      help: 'What the node refused (no PUBACK), by reason',
      labelNames: ['reason'],
      registers,
    });
    this.filtered = new Counter({
      name: 'palisade_edge_messages_filtered_total',
      help: 'Messages the local rules reduced to nothing (not stored, not an error)',
      registers,
    });
    this.batches = new Counter({
      name: 'palisade_edge_sync_batches_total',
      help: 'Batch sends to the platform, by outcome (confirmed, failed, quarantined)',
      labelNames: ['outcome'],
      registers,
    });
    this.synced = new Counter({
      name: 'palisade_edge_synced_messages_total',
      help: 'Messages the platform applied (not those it refused by index, which are set aside)',
      registers,
    });
    this.lastSync = new Gauge({
      name: 'palisade_edge_last_sync_timestamp_seconds',
      help: 'Unix time of the last batch the platform confirmed',
      registers,
    });
    this.linkUp = new Gauge({
      name: 'palisade_edge_link_up',
      help: '1 while the last exchange with the platform succeeded, 0 after a failure',
      registers,
    });
    const drainRate = () => this.drainRate();
    new Gauge({
      name: 'palisade_edge_drain_rate_messages_per_second',
      help: `Messages the platform confirmed per second over the last ${DRAIN_WINDOW_MS / 1000} s`,
      registers,
      collect() {
        this.set(drainRate());
      },
    });
    this.alerts = new Counter({
      name: 'palisade_edge_rule_alerts_total',
      help: 'Threshold alerts the local rules fired or cleared, by alert name and state',
      labelNames: ['alert', 'state'],
      registers,
    });
    this.rules = new Gauge({
      name: 'palisade_edge_rule_sets',
      help: 'Rule sets in force (from the platform, or the cache while offline)',
      registers,
    });
    this.rpc = new Counter({
      name: 'palisade_edge_rpc_requests_total',
      help: 'Platform RPC requests at the node, by event (received, delivered, answered, expired, ignored)',
      labelNames: ['event'],
      registers,
    });
    this.rpcPending = new Gauge({
      name: 'palisade_edge_rpc_pending',
      help: 'RPC requests held for devices that are not connected yet',
      registers,
    });
    this.#now = now;
  }

  /**
   * The platform confirmed a batch of `messages` (they left the outbox) and applied `applied`
   * of them; the rest it refused by index, and they are in quarantine.
   */
  confirmed(messages: number, applied: number): void {
    const at = this.#now();
    this.batches.inc({ outcome: 'confirmed' });
    this.synced.inc(applied);
    this.lastSync.set(at / 1000);
    this.linkUp.set(1);
    this.#confirmed.push({ at, messages });
  }

  /** The platform refused a batch for good: it was set aside. */
  quarantined(): void {
    this.batches.inc({ outcome: 'quarantined' });
    this.linkUp.set(1);
  }

  /** A send failed (link, platform or disk). */
  failed(): void {
    this.batches.inc({ outcome: 'failed' });
    this.linkUp.set(0);
  }

  /** Messages per second the platform confirmed over the last `DRAIN_WINDOW_MS`. */
  drainRate(): number {
    const since = this.#now() - DRAIN_WINDOW_MS;
    while ((this.#confirmed[0]?.at ?? since) < since) this.#confirmed.shift();
    return this.#confirmed.reduce((sum, c) => sum + c.messages, 0) / (DRAIN_WINDOW_MS / 1000);
  }
}
