/**
 * API request rate limits per tenant and per principal (API key, service client, user), from
 * the tenant's plan. The gateway charges every authenticated tenant request here after
 * authentication and before the body is read, so a tenant over its rate costs one map lookup
 * and a refusal. Each tenant has one entry holding its bucket, its principals' buckets and
 * its usage counters of the current window; principal buckets are bounded across tenants and
 * idle (refilled) ones are dropped first when the bound is hit, which loses nothing.
 */

import { Counter, Gauge, type Registry } from 'prom-client';
import type { Tenant, TenantContext } from '../tenancy/index.ts';
import { BoundedBuckets } from './bounded-buckets.ts';
import type { PlanLimits } from './plan-limits.ts';
import { RateLimitedError, type RequestQuotaReason } from './quota-error.ts';
import { TokenBucket } from './token-bucket.ts';

export interface RequestQuotaOptions {
  /** The limits of a plan (see `planLimits`). */
  readonly limitsOf: (plan: string) => PlanLimits;
  /** Most principal buckets held in memory, across tenants. */
  readonly maxBuckets: number;
  /** Length of the usage window `GET /v1/usage` reports, in milliseconds. */
  readonly usageWindowMs: number;
  readonly clock?: (() => number) | undefined;
  readonly metrics?: Registry | undefined;
}

/**
 * The draft-ietf-httpapi-ratelimit-headers fields of an admitted request: `policy` names
 * every limit that applies (`RateLimit-Policy`), `status` what is left of each (`RateLimit`).
 */
export interface RateLimitFields {
  readonly policy: string;
  readonly status: string;
}

interface TenantEntry {
  limits: PlanLimits;
  readonly requests: TokenBucket;
  /** Its issuer's requests (`/t/{slug}/…`), at the tenant's rate but apart from its API's. */
  readonly issuer: TokenBucket;
  readonly principals: Map<string, TokenBucket>;
  windowStart: number;
  accepted: number;
  refused: number;
}

/** What `GET /v1/usage` reports of API requests in the current window. */
export interface RequestUsage {
  readonly accepted: number;
  readonly refused: number;
  /** What the tenant bucket holds now; null when the plan has no tenant request limit. */
  readonly remaining: number | null;
}

export class RequestQuotas {
  readonly #options: RequestQuotaOptions;
  readonly #clock: () => number;
  readonly #tenants = new Map<string, TenantEntry>();
  /** `RateLimit-Policy` per plan, of requests charged to a principal too and of others. */
  readonly #policies = new Map<PlanLimits, string>();
  readonly #tenantPolicies = new Map<PlanLimits, string>();
  readonly #refusals: Record<RequestQuotaReason, { inc(): void }>;
  readonly #principals: BoundedBuckets<TenantEntry, TokenBucket>;

  constructor(options: RequestQuotaOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#principals = new BoundedBuckets({
      max: options.maxBuckets,
      tenants: () => this.#tenants.values(),
      bucketsOf: (tenant) => tenant.principals,
      idle: (tenant, bucket, now) => {
        const { principalRequestsPerSecond: rate, burstSeconds } = tenant.limits;
        return rate === 0 || bucket.idle(rate, rate * burstSeconds, now);
      },
    });
    const registers = options.metrics === undefined ? [] : [options.metrics];
    const counter = new Counter({
      name: 'palisade_rate_limited_requests_total',
      help: 'API requests refused over a plan request rate, by the bucket that refused',
      labelNames: ['reason'] as const,
      registers,
    });
    const child = (reason: RequestQuotaReason) => {
      counter.inc({ reason }, 0);
      return counter.labels({ reason });
    };
    this.#refusals = {
      tenant_requests: child('tenant_requests'),
      principal_requests: child('principal_requests'),
      issuer_requests: child('issuer_requests'),
    };
    const principals = () => this.#principals.size;
    new Gauge({
      name: 'palisade_rate_limit_principal_buckets',
      help: 'Principal request rate-limit buckets held in memory',
      registers,
      collect() {
        this.set(principals());
      },
    });
  }

  /**
   * Charges one request to the tenant and to the principal acting. Returns the refusal
   * (PALISADE_RATE_LIMITED, nothing charged), or the rate-limit fields for the response, or
   * undefined when the plan sets no request limit.
   */
  admit(context: TenantContext): RateLimitedError | RateLimitFields | undefined {
    return this.#admit(context.tenantId, context.tenant.plan, context.actor.id, 1, true);
  }

  /**
   * Charges `cost` more requests to a request `admit` let in, for the work it was found to
   * ask for once its body was read (a GraphQL operation's store operations beyond its first).
   * As `admit`, refused with nothing charged when either bucket does not hold them (or, above
   * its capacity, is not full); the request stays counted as one in the usage window.
   */
  admitMore(context: TenantContext, cost: number): RateLimitedError | RateLimitFields | undefined {
    return this.#admit(context.tenantId, context.tenant.plan, context.actor.id, cost, false);
  }

  /**
   * Gives back `cost` of an `admitMore` charge whose work was not done; answers the buckets'
   * fields then (undefined when the plan sets no request limit).
   */
  refund(context: TenantContext, cost: number): RateLimitFields | undefined {
    const tenant = this.#tenants.get(context.tenantId);
    if (tenant === undefined) return undefined;
    const now = this.#clock();
    const limits = tenant.limits;
    const { tenantRequestsPerSecond: tenantRate, burstSeconds: burst } = limits;
    const principalRate = context.actor.id === undefined ? 0 : limits.principalRequestsPerSecond;
    const principal =
      principalRate === 0 ? undefined : tenant.principals.get(context.actor.id ?? '');
    if (tenantRate !== 0) tenant.requests.refund(cost, tenantRate, tenantRate * burst, now);
    principal?.refund(cost, principalRate, principalRate * burst, now);
    return this.#fields(tenant, principal, limits);
  }

  /**
   * Charges one request to the tenant's issuer (`/t/{slug}/…`, whose path names the tenant):
   * a bucket at the tenant's request rate of its own, so that anyone naming a tenant's slug
   * spends that bucket and never the tenant's API requests'. The tenant is only charged, never
   * trusted: the request reaches no tenant data through it. As `admit` otherwise.
   */
  admitIssuer(tenant: Tenant): RateLimitedError | RateLimitFields | undefined {
    const now = this.#clock();
    const limits = this.#options.limitsOf(tenant.plan);
    const entry = this.#tenant(tenant.id, limits, now);
    const rate = limits.tenantRequestsPerSecond;
    if (rate === 0) return undefined;
    const burst = limits.burstSeconds;
    const refusal = this.#check(entry.issuer, rate, burst, 'issuer_requests', now);
    if (refusal !== undefined) return refusal;
    entry.issuer.tokens -= 1;
    return {
      policy: `"issuer_requests";q=${rate * burst};w=${burst}`,
      status: state('issuer_requests', entry.issuer, rate, burst),
    };
  }

  #admit(
    tenantId: string,
    plan: string,
    principalId: string | undefined,
    cost: number,
    counted: boolean,
  ): RateLimitedError | RateLimitFields | undefined {
    const now = this.#clock();
    const limits = this.#options.limitsOf(plan);
    const tenant = this.#tenant(tenantId, limits, now);
    const tenantRate = limits.tenantRequestsPerSecond;
    const principalRate = principalId === undefined ? 0 : limits.principalRequestsPerSecond;
    if (tenantRate === 0 && principalRate === 0) {
      if (counted) tenant.accepted++;
      return undefined;
    }
    const burst = limits.burstSeconds;
    const principal =
      principalId === undefined || principalRate === 0
        ? undefined
        : this.#principal(tenant, principalId, now);
    if (principal !== undefined) {
      const refusal = this.#check(principal, principalRate, burst, 'principal_requests', now, cost);
      if (refusal !== undefined) {
        if (counted) tenant.refused++;
        return refusal;
      }
    }
    if (tenantRate !== 0) {
      const refusal = this.#check(tenant.requests, tenantRate, burst, 'tenant_requests', now, cost);
      if (refusal !== undefined) {
        if (counted) tenant.refused++;
        return refusal;
      }
      tenant.requests.tokens -= cost;
    }
    if (principal !== undefined) principal.tokens -= cost;
    if (counted) tenant.accepted++;
    return this.#fields(tenant, principal, limits);
  }

  /** The rate-limit fields of a tenant's bucket and, when charged too, its principal's. */
  #fields(
    tenant: TenantEntry,
    principal: TokenBucket | undefined,
    limits: PlanLimits,
  ): RateLimitFields | undefined {
    const {
      tenantRequestsPerSecond: tenantRate,
      principalRequestsPerSecond,
      burstSeconds,
    } = limits;
    if (tenantRate === 0 && principal === undefined) return undefined;
    let status = '';
    if (tenantRate !== 0)
      status = state('tenant_requests', tenant.requests, tenantRate, burstSeconds);
    if (principal !== undefined) {
      const item = state('principal_requests', principal, principalRequestsPerSecond, burstSeconds);
      status = status === '' ? item : `${status}, ${item}`;
    }
    return { policy: this.#policy(limits, principal !== undefined), status };
  }

  /** The tenant's API requests in the current window and what its bucket holds now. */
  usage(context: TenantContext): RequestUsage {
    const now = this.#clock();
    const limits = this.#options.limitsOf(context.tenant.plan);
    const tenant = this.#tenant(context.tenantId, limits, now);
    const rate = limits.tenantRequestsPerSecond;
    if (rate !== 0) tenant.requests.refill(rate, rate * limits.burstSeconds, now);
    return {
      accepted: tenant.accepted,
      refused: tenant.refused,
      remaining: rate === 0 ? null : Math.max(0, Math.floor(tenant.requests.tokens)),
    };
  }

  /** Principal buckets held now (for tests and the gauge). */
  get principalBuckets(): number {
    return this.#principals.size;
  }

  /** Tenants whose buckets and usage are held now. */
  get tenantsHeld(): number {
    return this.#tenants.size;
  }

  /** Forgets a deleted tenant: its buckets, its principals' and its usage counters. */
  forgetTenant(tenantId: string): void {
    const tenant = this.#tenants.get(tenantId);
    if (tenant === undefined) return;
    this.#principals.dropTenant(tenant);
    this.#tenants.delete(tenantId);
  }

  #check(
    bucket: TokenBucket,
    rate: number,
    burst: number,
    reason: RequestQuotaReason,
    now: number,
    cost = 1,
  ): RateLimitedError | undefined {
    const capacity = rate * burst;
    bucket.refill(rate, capacity, now);
    if (bucket.covers(cost, capacity)) return undefined;
    this.#refusals[reason].inc();
    return new RateLimitedError({
      reason,
      quota: capacity,
      windowSeconds: burst,
      remaining: Math.max(0, Math.floor(bucket.tokens)),
      retryAfterSeconds: bucket.retryAfter(cost, rate, capacity),
    });
  }

  /** `RateLimit-Policy` of a plan, made once per plan; `principal`: the principal's bucket too. */
  #policy(limits: PlanLimits, principal: boolean): string {
    const policies = principal ? this.#policies : this.#tenantPolicies;
    let policy = policies.get(limits);
    if (policy === undefined) {
      const { tenantRequestsPerSecond: t, principalRequestsPerSecond: p, burstSeconds: w } = limits;
      const items: string[] = [];
      if (t !== 0) items.push(`"tenant_requests";q=${t * w};w=${w}`);
      if (principal) items.push(`"principal_requests";q=${p * w};w=${w}`);
      policy = items.join(', ');
      policies.set(limits, policy);
    }
    return policy;
  }

  #tenant(tenantId: string, limits: PlanLimits, now: number): TenantEntry {
    const windowMs = this.#options.usageWindowMs;
    const windowStart = now - (now % windowMs);
    let tenant = this.#tenants.get(tenantId);
    if (tenant === undefined) {
      tenant = {
        limits,
        requests: new TokenBucket(limits.tenantRequestsPerSecond * limits.burstSeconds, now),
        issuer: new TokenBucket(limits.tenantRequestsPerSecond * limits.burstSeconds, now),
        principals: new Map(),
        windowStart,
        accepted: 0,
        refused: 0,
      };
      this.#tenants.set(tenantId, tenant);
      return tenant;
    }
    tenant.limits = limits;
    if (tenant.windowStart !== windowStart) {
      tenant.windowStart = windowStart;
      tenant.accepted = 0;
      tenant.refused = 0;
    }
    return tenant;
  }

  #principal(tenant: TenantEntry, principalId: string, now: number): TokenBucket {
    const { principalRequestsPerSecond: rate, burstSeconds } = tenant.limits;
    return this.#principals.get(
      tenant,
      principalId,
      now,
      () => new TokenBucket(rate * burstSeconds, now),
    );
  }
}

/** One `RateLimit` item: whole requests left and seconds until the bucket is full again. */
function state(name: RequestQuotaReason, bucket: TokenBucket, rate: number, burst: number): string {
  const capacity = rate * burst;
  const remaining = Math.max(0, Math.floor(bucket.tokens));
  const reset = Math.ceil((capacity - bucket.tokens) / rate);
  return `"${name}";r=${remaining};t=${reset}`;
}
