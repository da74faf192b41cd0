/** One timestamped group of values: ThingsBoard's `{"ts": ms, "values": {…}}`. */
export interface Entry {
  readonly ts: number;
  readonly values: Record<string, unknown>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function entryOf(item: unknown, now: number): Entry | undefined {
  if (!isObject(item)) return undefined;
  if (!('ts' in item) && !('values' in item)) return { ts: now, values: { ...item } };
  const extra = Object.keys(item).some((k) => k !== 'ts' && k !== 'values');
  if (extra || !Number.isSafeInteger(item.ts) || !isObject(item.values)) return undefined;
  return { ts: item.ts as number, values: { ...item.values } };
}

/**
 * A telemetry payload (`{"k": v}` stamped `now`, `{"ts", "values"}`, or an array of either)
 * as entries, or undefined when it has another shape: such a payload passes the rules
 * untouched, so the platform refuses it with its precise reason.
 */
export function entriesOf(payload: unknown, now: number): Entry[] | undefined {
  const items = Array.isArray(payload) ? payload : [payload];
  const entries: Entry[] = [];
  for (const item of items) {
    const entry = entryOf(item, now);
    if (entry === undefined) return undefined;
    entries.push(entry);
  }
  return entries;
}

/** Entries as one payload: a single `{"ts", "values"}` or an array of them. */
export function payloadOf(entries: readonly Entry[]): unknown {
  return entries.length === 1 ? entries[0] : entries;
}
