export { type PlanLimits, planLimits, type QuotaSettings } from './plan-limits.ts';
export {
  QuotaExceededError,
  type QuotaReason,
  type QuotaState,
  rateLimitHeaders,
} from './quota-error.ts';
export {
  type TelemetryQuotaOptions,
  TelemetryQuotas,
  type TenantUsage,
} from './telemetry-quotas.ts';
