import type { Outbox } from '../outbox.ts';
import type { AlertEvent } from './device-rules.ts';
import type { DeviceOutput, RuleEngine } from './rule-engine.ts';
import type { RuleBook } from './rule-types.ts';
import { payloadOf } from './telemetry-entries.ts';

/** What the pipeline reports (for logs and metrics). */
export interface PipelineEvents {
  /** A payload (or alert) is on disk in the outbox. */
  stored?(deviceId: string, kind: 'telemetry' | 'alert'): void;
  /** The rules removed every value of a message: nothing was stored, and that is not an error. */
  filtered?(deviceId: string): void;
  alert?(deviceId: string, alert: AlertEvent): void;
}

/** An alert as a telemetry message: key `alert.<name>`, a JSON value saying what crossed. */
export function alertPayload(alert: AlertEvent): unknown {
  const { name, ts, ...what } = alert;
  return { ts, values: { [`alert.${name}`]: what } };
}

/**
 * The path of a device message at the edge: rules, then the durable outbox. `accept` is the
 * hook the local listener calls before it acknowledges (MQTT PUBACK): when it returns, what
 * the rules made of the message is on disk; when the outbox is full it throws
 * `OutboxFullError` and the device must not get its acknowledgement. Alerts go in first, with
 * priority over bulk telemetry, so they leave the node first.
 *
 * An open downsample window lives in memory: a crash loses at most the open window of each
 * device and key, which is the price of reducing the data before it is stored.
 */
export class EdgePipeline {
  readonly #outbox: Outbox;
  readonly #engine: RuleEngine;
  readonly #events: PipelineEvents;
  readonly #now: () => number;

  constructor(
    outbox: Outbox,
    engine: RuleEngine,
    events: PipelineEvents = {},
    now: () => number = Date.now,
  ) {
    this.#outbox = outbox;
    this.#engine = engine;
    this.#events = events;
    this.#now = now;
  }

  /** The revision of the rules in force. */
  get revision(): string {
    return this.#engine.revision;
  }

  /**
   * Runs a device's telemetry through its type's rules and stores the result durably, all or
   * nothing: when the outbox refuses any of it, or the commit it joins fails, neither its
   * alerts nor the rules' state keep a trace of the message.
   */
  accept(deviceId: string, payload: unknown): void {
    const result = this.#outbox.transaction(() => {
      // Refused even when the rules would only fold it into a window: that window's
      // aggregate is stored past the maximum when it ends (see `#store`).
      this.#outbox.checkRoom();
      this.#outbox.onRollback(this.#engine.snapshot(deviceId));
      const processed = this.#engine.process(deviceId, payload, this.#now());
      for (const alert of processed.alerts)
        this.#outbox.accept(deviceId, alertPayload(alert), 'alert');
      if (processed.payload !== undefined)
        this.#outbox.accept(deviceId, processed.payload, 'telemetry');
      return processed;
    });
    for (const alert of result.alerts) {
      this.#events.stored?.(deviceId, 'alert');
      this.#events.alert?.(deviceId, alert);
    }
    if (result.payload === undefined) this.#events.filtered?.(deviceId);
    else this.#events.stored?.(deviceId, 'telemetry');
  }

  #alerts(deviceId: string, alerts: readonly AlertEvent[]): void {
    for (const alert of alerts) {
      this.#outbox.keep(deviceId, alertPayload(alert), 'alert');
      this.#events.stored?.(deviceId, 'alert');
      this.#events.alert?.(deviceId, alert);
    }
  }

  /**
   * Stores what windows closed by time or by a rule change made, even when the outbox is
   * full: the values in them were acknowledged to their devices when they joined the window.
   */
  #store(outputs: readonly DeviceOutput[]): void {
    for (const out of outputs) {
      this.#alerts(out.deviceId, out.alerts);
      if (out.entries.length === 0) continue;
      this.#outbox.keep(out.deviceId, payloadOf(out.entries), 'telemetry');
      this.#events.stored?.(out.deviceId, 'telemetry');
    }
  }

  /** Stores the downsample windows that have ended; the agent calls it on a timer. */
  tick(): void {
    this.#store(this.#engine.due(this.#now()));
  }

  /** Stores every open window now (at a graceful stop, so nothing held in memory is lost). */
  flush(): void {
    this.#store(this.#engine.due(Number.POSITIVE_INFINITY));
  }

  /** Puts a new rule book in force, first storing what the old rules still held. */
  setRules(book: RuleBook): void {
    if (book.revision === this.#engine.revision) return;
    this.#store(this.#engine.replace(book));
  }
}
