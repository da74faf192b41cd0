export const DAY_MS = 86_400_000;

/** Days a plan keeps when neither it nor `*` is named in the setting. */
const DEFAULT_RETENTION_DAYS = 365;

/** How long each plan keeps telemetry, from the `telemetryRetention` setting. */
export interface RetentionPolicy {
  readonly daysOf: (plan: string) => number;
  /** The most days any plan keeps, a plan not named included: older points are no one's. */
  readonly longestDays: number;
}

/** The policy of `PLAN=DAYS` entries; `*` matches any plan not named. */
export function retentionPolicy(entries: readonly string[]): RetentionPolicy {
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
