import type { AlertRule, DownsampleRule, Rule } from './rule-types.ts';
import type { Entry } from './telemetry-entries.ts';

/** A threshold crossing of one device, fired at the edge. */
export interface AlertEvent {
  readonly name: string;
  readonly key: string;
  readonly value: number;
  readonly state: 'firing' | 'cleared';
  readonly ts: number;
  readonly above?: number;
  readonly below?: number;
}

/** What the rules made of some input: entries to send (time order) and alerts fired. */
export interface RuleOutput {
  readonly entries: Entry[];
  readonly alerts: AlertEvent[];
}

interface Window {
  start: number;
  n: number;
  sum: number;
  min: number;
  max: number;
  last: number;
}

type State = { last?: unknown } | { window?: Window } | { firing?: boolean };

function aggregate(rule: DownsampleRule, w: Window): number {
  switch (rule.aggregate) {
    case 'mean':
      return w.sum / w.n;
    case 'min':
      return w.min;
    case 'max':
      return w.max;
    case 'sum':
      return w.sum;
    case 'count':
      return w.n;
    case 'last':
      return w.last;
  }
}

function crossed(rule: AlertRule, v: number): boolean {
  return (
    (rule.above !== undefined && v > rule.above) || (rule.below !== undefined && v < rule.below)
  );
}

function same(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The rules of one device type applied to one device, with that device's state: the last
 * value a deadband let through, the open downsample windows, and whether each alert fires.
 * Pure apart from that state: time comes in with the entries (and `due`), never from a clock.
 */
export class DeviceRules {
  readonly #rules: readonly Rule[];
  #state: State[];

  constructor(rules: readonly Rule[]) {
    this.#rules = rules;
    this.#state = rules.map(() => ({}));
  }

  /** A copy of the state, for `restore` when what `process` made could not be stored. */
  save(): readonly State[] {
    return this.#state.map((s) =>
      'window' in s && s.window !== undefined ? { window: { ...s.window } } : { ...s },
    );
  }

  restore(saved: readonly State[]): void {
    this.#state = [...saved];
  }

  /** Runs entries through the rules, in order. */
  process(entries: readonly Entry[]): RuleOutput {
    const out: RuleOutput = { entries: [], alerts: [] };
    for (const entry of entries) this.#run({ ts: entry.ts, values: { ...entry.values } }, 0, out);
    return out;
  }

  /** Closes the windows that ended by `now` (all of them with `Infinity`). */
  due(now: number): RuleOutput {
    const out: RuleOutput = { entries: [], alerts: [] };
    this.#rules.forEach((rule, i) => {
      if (rule.kind !== 'downsample') return;
      const state = this.#state[i] as { window?: Window };
      const w = state.window;
      if (w === undefined || w.start + rule.windowMs > now) return;
      state.window = undefined;
      this.#run({ ts: w.start, values: { [rule.key]: aggregate(rule, w) } }, i + 1, out);
    });
    return out;
  }

  #run(entry: { ts: number; values: Record<string, unknown> }, from: number, out: RuleOutput) {
    const values = entry.values;
    for (let i = from; i < this.#rules.length; i++) {
      const rule = this.#rules[i] as Rule;
      switch (rule.kind) {
        case 'filter':
          for (const k of Object.keys(values))
            if (rule.keep === undefined ? rule.drop?.includes(k) : !rule.keep.includes(k))
              delete values[k];
          break;
        case 'rename':
          if (rule.from in values && rule.from !== rule.to) {
            values[rule.to] = values[rule.from];
            delete values[rule.from];
          }
          break;
        case 'scale': {
          const v = values[rule.key];
          if (typeof v === 'number') values[rule.key] = v * rule.factor + rule.offset;
          break;
        }
        case 'deadband':
          this.#deadband(i, rule.key, rule.delta, values);
          break;
        case 'downsample':
          this.#downsample(i, rule, entry.ts, values, out);
          break;
        case 'alert':
          this.#alert(i, rule, entry.ts, values, out);
          break;
      }
    }
    if (Object.keys(values).length > 0) out.entries.push(entry);
  }

  #deadband(i: number, key: string, delta: number, values: Record<string, unknown>): void {
    if (!(key in values)) return;
    const state = this.#state[i] as { last?: unknown };
    const v = values[key];
    const prior = state.last;
    const keep =
      prior === undefined ||
      (typeof v === 'number' && typeof prior === 'number'
        ? v !== prior && Math.abs(v - prior) >= delta
        : !same(v, prior));
    if (keep) state.last = v;
    else delete values[key];
  }

  #downsample(
    i: number,
    rule: DownsampleRule,
    ts: number,
    values: Record<string, unknown>,
    out: RuleOutput,
  ): void {
    const v = values[rule.key];
    if (typeof v !== 'number') return;
    delete values[rule.key];
    const state = this.#state[i] as { window?: Window };
    const start = Math.floor(ts / rule.windowMs) * rule.windowMs;
    const w = state.window;
    if (w !== undefined && w.start !== start) {
      state.window = undefined;
      this.#run({ ts: w.start, values: { [rule.key]: aggregate(rule, w) } }, i + 1, out);
    }
    const open = state.window;
    if (open === undefined) {
      state.window = { start, n: 1, sum: v, min: v, max: v, last: v };
      return;
    }
    open.n += 1;
    open.sum += v;
    open.min = Math.min(open.min, v);
    open.max = Math.max(open.max, v);
    open.last = v;
  }

  #alert(
    i: number,
    rule: AlertRule,
    ts: number,
    values: Record<string, unknown>,
    out: RuleOutput,
  ): void {
    const v = values[rule.key];
    if (typeof v !== 'number') return;
    const state = this.#state[i] as { firing?: boolean };
    const firing = crossed(rule, v);
    if (firing === (state.firing ?? false)) return;
    state.firing = firing;
    out.alerts.push({
      name: rule.name,
      key: rule.key,
      value: v,
      state: firing ? 'firing' : 'cleared',
      ts,
      ...(rule.above === undefined ? {} : { above: rule.above }),
      ...(rule.below === undefined ? {} : { below: rule.below }),
    });
  }
}
