export {
  type CappedKind,
  type ObjectCapOptions,
  ObjectCaps,
  PlanLimitReachedError,
} from './object-caps.ts';
export { type PlanLimits, planLimits, type QuotaSettings } from './plan-limits.ts';
export {
  OverLimitError,
  QuotaExceededError,
  type QuotaReason,
  type QuotaState,
  RateLimitedError,
  type RequestQuotaReason,
  rateLimitHeaders,
  type TelemetryQuotaReason,
} from './quota-error.ts';
export {
  type RateLimitFields,
  type RequestQuotaOptions,
  RequestQuotas,
  type RequestUsage,
} from './request-quotas.ts';
export { type SignInLimitOptions, SignInLimits } from './sign-in-limits.ts';
export {
  type TelemetryQuotaOptions,
  TelemetryQuotas,
  type TenantUsage,
} from './telemetry-quotas.ts';
