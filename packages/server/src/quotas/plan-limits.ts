/** The per-second rates and the object caps one plan grants; 0 means unlimited. */
export interface PlanLimits {
  readonly tenantMessagesPerSecond: number;
  readonly tenantPointsPerSecond: number;
  readonly deviceMessagesPerSecond: number;
  readonly devicePointsPerSecond: number;
  /** API requests a tenant may make per second, all its principals together. */
  readonly tenantRequestsPerSecond: number;
  /** API requests one principal (API key, client, user, edge node) may make per second. */
  readonly principalRequestsPerSecond: number;
  /** Bucket capacity in seconds of rate: how long a burst at full speed may last. */
  readonly burstSeconds: number;
  /** Most devices a tenant may hold. */
  readonly devicesMax: number;
  /** Most collections a tenant may hold. */
  readonly collectionsMax: number;
  /** Most live telemetry streams a tenant may hold open in one process. */
  readonly telemetryStreamsMax: number;
}

/** The quota settings, each a list of `PLAN=N` entries (`*` for any plan not named). */
export interface QuotaSettings {
  readonly quotaTenantMessagesPerSecond: readonly string[];
  readonly quotaTenantPointsPerSecond: readonly string[];
  readonly quotaDeviceMessagesPerSecond: readonly string[];
  readonly quotaDevicePointsPerSecond: readonly string[];
  readonly quotaTenantRequestsPerSecond: readonly string[];
  readonly quotaPrincipalRequestsPerSecond: readonly string[];
  readonly quotaDevicesMax: readonly string[];
  readonly quotaCollectionsMax: readonly string[];
  readonly quotaTelemetryStreamsMax: readonly string[];
  readonly quotaBurstSeconds: number;
}

function perPlan(entries: readonly string[]): (plan: string) => number {
  const rates = new Map<string, number>();
  for (const entry of entries) {
    const at = entry.indexOf('=');
    rates.set(entry.slice(0, at), Number(entry.slice(at + 1)));
  }
  const fallback = rates.get('*') ?? 0;
  return (plan) => rates.get(plan) ?? fallback;
}

/** Resolves a plan name to its limits; results are cached, so the hot path allocates nothing. */
export function planLimits(settings: QuotaSettings): (plan: string) => PlanLimits {
  const tm = perPlan(settings.quotaTenantMessagesPerSecond);
  const tp = perPlan(settings.quotaTenantPointsPerSecond);
  const dm = perPlan(settings.quotaDeviceMessagesPerSecond);
  const dp = perPlan(settings.quotaDevicePointsPerSecond);
  const tr = perPlan(settings.quotaTenantRequestsPerSecond);
  const pr = perPlan(settings.quotaPrincipalRequestsPerSecond);
  const dx = perPlan(settings.quotaDevicesMax);
  const cx = perPlan(settings.quotaCollectionsMax);
  const sx = perPlan(settings.quotaTelemetryStreamsMax);
  const cache = new Map<string, PlanLimits>();
  return (plan) => {
    let limits = cache.get(plan);
    if (limits === undefined) {
      limits = {
        tenantMessagesPerSecond: tm(plan),
        tenantPointsPerSecond: tp(plan),
        deviceMessagesPerSecond: dm(plan),
        devicePointsPerSecond: dp(plan),
        tenantRequestsPerSecond: tr(plan),
        principalRequestsPerSecond: pr(plan),
        burstSeconds: settings.quotaBurstSeconds,
        devicesMax: dx(plan),
        collectionsMax: cx(plan),
        telemetryStreamsMax: sx(plan),
      };
      cache.set(plan, limits);
    }
    return limits;
  };
}
