import { type ErrorCode, PalisadeError } from '../errors/index.ts';

/** Which telemetry bucket refused; a closed set, so metric labels stay bounded. */
export type TelemetryQuotaReason =
  | 'tenant_messages'
  | 'tenant_points'
  | 'device_messages'
  | 'device_points';

/** Which API request bucket refused. */
export type RequestQuotaReason = 'tenant_requests' | 'principal_requests' | 'issuer_requests';

/** Sign-in form submissions of one address at one tenant. */
export type SignInQuotaReason = 'address_sign_in';

export type QuotaReason = TelemetryQuotaReason | RequestQuotaReason | SignInQuotaReason;

/** The bucket state a refusal reports to the client. */
export interface QuotaState {
  readonly reason: QuotaReason;
  /** Bucket capacity (draft-ietf-httpapi-ratelimit-headers `q`). */
  readonly quota: number;
  /** Seconds to refill the whole capacity (`w`). */
  readonly windowSeconds: number;
  /** Whole tokens left now, at least 0 (`r`). */
  readonly remaining: number;
  /** Seconds until the refused message would fit (`t`, and `Retry-After`). */
  readonly retryAfterSeconds: number;
}

/** A refusal over one of the plan's rates; the problem handler adds the rate-limit headers. */
export class OverLimitError extends PalisadeError {
  readonly quota: QuotaState;

  constructor(code: ErrorCode, detail: string, quota: QuotaState) {
    super(code, detail, [{ path: '', message: quota.reason }]);
    this.quota = quota;
  }
}

/** A message over its plan's rate: PALISADE_QUOTA_EXCEEDED (429), refused before any write. */
export class QuotaExceededError extends OverLimitError {
  constructor(quota: QuotaState) {
    super(
      'PALISADE_QUOTA_EXCEEDED',
      `over the ${quota.reason.replace('_', ' ')} rate of the plan; retry in ${quota.retryAfterSeconds}s`,
      quota,
    );
  }
}

/** An API request over the tenant's or the principal's request rate: PALISADE_RATE_LIMITED (429). */
export class RateLimitedError extends OverLimitError {
  constructor(quota: QuotaState) {
    super(
      'PALISADE_RATE_LIMITED',
      quota.reason === 'address_sign_in'
        ? `too many sign-in attempts from this address; retry in ${quota.retryAfterSeconds}s`
        : `over the ${quota.reason === 'tenant_requests' ? "tenant's" : "credential's"} request rate of the plan; retry in ${quota.retryAfterSeconds}s`,
      quota,
    );
  }
}

/**
 * `Retry-After` (RFC 9110) and the `RateLimit-Policy` / `RateLimit` structured fields of
 * draft-ietf-httpapi-ratelimit-headers-09, naming the policy (bucket) that refused.
 */
export function rateLimitHeaders(quota: QuotaState): Record<string, string> {
  const name = `"${quota.reason}"`;
  return {
    'retry-after': String(quota.retryAfterSeconds),
    'ratelimit-policy': `${name};q=${quota.quota};w=${quota.windowSeconds}`,
    ratelimit: `${name};r=${quota.remaining};t=${quota.retryAfterSeconds}`,
  };
}
