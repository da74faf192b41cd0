import { PalisadeError } from '../errors/index.ts';

/** Which bucket refused; a closed set, so metric labels stay bounded. */
export type QuotaReason = 'tenant_messages' | 'tenant_points' | 'device_messages' | 'device_points';

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

/** A message over its plan's rate: PALISADE_QUOTA_EXCEEDED (429), refused before any write. */
export class QuotaExceededError extends PalisadeError {
  readonly quota: QuotaState;

  constructor(quota: QuotaState) {
    super(
      'PALISADE_QUOTA_EXCEEDED',
      `over the ${quota.reason.replace('_', ' ')} rate of the plan; retry in ${quota.retryAfterSeconds}s`,
      [{ path: '', message: quota.reason }],
    );
    this.quota = quota;
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
