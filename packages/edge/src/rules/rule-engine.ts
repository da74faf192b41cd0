import { type AlertEvent, DeviceRules, type RuleOutput } from './device-rules.ts';
import type { Rule, RuleBook } from './rule-types.ts';
import { entriesOf, payloadOf } from './telemetry-entries.ts';

/** What the rules made of one message. */
export interface Processed {
  /** The payload to store, or undefined when the rules removed every value. */
  readonly payload: unknown;
  readonly alerts: readonly AlertEvent[];
  /** False when no rule set covers the device (the payload passed untouched). */
  readonly ruled: boolean;
}

/** Output of windows closed by time (or by a rule change), per device. */
export interface DeviceOutput extends RuleOutput {
  readonly deviceId: string;
}

/**
 * The node's rule book applied to its devices: one `DeviceRules` (with its state) per device
 * whose type, as the book says, has a rule set; other devices' payloads pass untouched.
 * Replacing the book first closes every open window under the old rules, so no aggregated
 * value is lost by a rule change.
 */
export class RuleEngine {
  #byType: ReadonlyMap<string, readonly Rule[]> = new Map();
  #typeOf: ReadonlyMap<string, string> = new Map();
  #revision = '';
  readonly #devices = new Map<string, DeviceRules>();

  constructor(book: RuleBook) {
    this.#install(book);
  }

  #install(book: RuleBook): void {
    this.#byType = new Map(book.ruleSets.map((s) => [s.deviceType, s.rules]));
    this.#typeOf = new Map(book.devices.map((d) => [d.id, d.type]));
    this.#revision = book.revision;
  }

  get revision(): string {
    return this.#revision;
  }

  /** Applies the rules of the device's type to one telemetry payload received at `now`. */
  process(deviceId: string, payload: unknown, now: number): Processed {
    const type = this.#typeOf.get(deviceId);
    const rules = type === undefined ? undefined : this.#byType.get(type);
    const entries = rules === undefined ? undefined : entriesOf(payload, now);
    if (rules === undefined || entries === undefined) return { payload, alerts: [], ruled: false };
    let device = this.#devices.get(deviceId);
    if (device === undefined) {
      device = new DeviceRules(rules);
      this.#devices.set(deviceId, device);
    }
    const out = device.process(entries);
    const kept = out.entries.length === 0 ? undefined : payloadOf(out.entries);
    return { payload: kept, alerts: out.alerts, ruled: true };
  }

  /**
   * Returns what puts the device's rule state back as it is now: for a message `process`
   * took that the outbox then could not keep, so its resend is taken as the first send.
   */
  snapshot(deviceId: string): () => void {
    const device = this.#devices.get(deviceId);
    if (device === undefined) return () => this.#devices.delete(deviceId);
    const saved = device.save();
    return () => device.restore(saved);
  }

  /** Closes the downsample windows that ended by `now`. */
  due(now: number): DeviceOutput[] {
    const outputs: DeviceOutput[] = [];
    for (const [deviceId, device] of this.#devices) {
      const out = device.due(now);
      if (out.entries.length > 0 || out.alerts.length > 0) outputs.push({ deviceId, ...out });
    }
    return outputs;
  }

  /** Installs a new book; returns what the old rules still held (every open window). */
  replace(book: RuleBook): DeviceOutput[] {
    const held = this.due(Number.POSITIVE_INFINITY);
    this.#devices.clear();
    this.#install(book);
    return held;
  }
}
