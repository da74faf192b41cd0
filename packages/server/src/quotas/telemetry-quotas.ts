/**
 * Telemetry rate limits per tenant and per device, from the tenant's plan. Each tenant has
 * one entry holding its two buckets (messages, points), its devices' buckets and its usage
 * counters of the current window; keys are namespaced by the tenant structurally (a map per
 * tenant), so two tenants never share a bucket. A message is checked against every bucket
 * before any is charged, and refused before anything is written. Buckets live in memory of
 * this process: a full bucket carries no state, so idle ones are dropped when the bound is hit.
 */

import { type Counter, Gauge, Counter as PromCounter, type Registry } from 'prom-client';
import type { TenantContext } from '../tenancy/index.ts';
import { BoundedBuckets } from './bounded-buckets.ts';
import type { PlanLimits } from './plan-limits.ts';
import { QuotaExceededError, type TelemetryQuotaReason } from './quota-error.ts';
import { TokenBucket } from './token-bucket.ts';

export interface TelemetryQuotaOptions {
  /** The limits of a plan (see `planLimits`). */
  readonly limitsOf: (plan: string) => PlanLimits;
  /** Most device buckets held in memory, across tenants. */
  readonly maxBuckets: number;
  /** Length of the usage window `GET /v1/usage` reports, in milliseconds. */
  readonly usageWindowMs: number;
  readonly clock?: (() => number) | undefined;
  readonly metrics?: Registry | undefined;
}

interface DeviceEntry {
  readonly messages: TokenBucket;
  readonly points: TokenBucket;
}

interface TenantEntry {
  /** The limits of the tenant's plan when it was last charged. */
  limits: PlanLimits;
  readonly messages: TokenBucket;
  readonly points: TokenBucket;
  readonly devices: Map<string, DeviceEntry>;
  windowStart: number;
  acceptedMessages: number;
  acceptedPoints: number;
  refusedMessages: number;
  refusedPoints: number;
}

/** One device's share of a message for several devices: its id and how many points it has. */
export interface TelemetryPart {
  readonly deviceId: string;
  readonly points: number;
}

/** What `GET /v1/usage` answers. */
export interface TenantUsage {
  readonly plan: string;
  readonly limits: PlanLimits;
  readonly window: { readonly start: string; readonly durationMs: number };
  readonly messages: {
    readonly accepted: number;
    readonly refused: number;
    readonly remaining: number | null;
  };
  readonly points: {
    readonly accepted: number;
    readonly refused: number;
    readonly remaining: number | null;
  };
}

const REASONS: readonly TelemetryQuotaReason[] = [
  'tenant_messages',
  'tenant_points',
  'device_messages',
  'device_points',
];

export class TelemetryQuotas {
  readonly #options: TelemetryQuotaOptions;
  readonly #clock: () => number;
  readonly #tenants = new Map<string, TenantEntry>();
  readonly #refusals: Record<TelemetryQuotaReason, { inc(): void }>;
  readonly #devices: BoundedBuckets<TenantEntry, DeviceEntry>;

  constructor(options: TelemetryQuotaOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#devices = new BoundedBuckets({
      max: options.maxBuckets,
      tenants: () => this.#tenants.values(),
      bucketsOf: (tenant) => tenant.devices,
      idle: (tenant, device, now) => this.#idle(tenant, device, now),
    });
    const registers = options.metrics === undefined ? [] : [options.metrics];
    const counter: Counter<'reason'> = new PromCounter({
      name: 'palisade_quota_refusals_total',
      help: 'Telemetry messages refused over a plan rate (HTTP, MQTT and edge), by the bucket that refused',
      labelNames: ['reason'],
      registers,
    });
    // One child per reason made up front: every reason is exported (at 0) and no refusal
    // hashes labels.
    this.#refusals = Object.fromEntries(
      REASONS.map((reason) => {
        counter.inc({ reason }, 0);
        return [reason, counter.labels({ reason })];
      }),
    ) as Record<TelemetryQuotaReason, { inc(): void }>;
    const devices = () => this.#devices.size;
    new Gauge({
      name: 'palisade_quota_device_buckets',
      help: 'Device rate-limit buckets held in memory',
      registers,
      collect() {
        this.set(devices());
      },
    });
  }

  /**
   * Charges one message of `points` points to the tenant and (when given) the device, or
   * throws QuotaExceededError (PALISADE_QUOTA_EXCEEDED) and charges nothing.
   */
  admit(context: TenantContext, deviceId: string | undefined, points: number): void {
    const now = this.#clock();
    const limits = this.#options.limitsOf(context.tenant.plan);
    const tenant = this.#tenant(context.tenantId, limits, now);
    const device = deviceId === undefined ? undefined : this.#device(tenant, deviceId, limits, now);
    const burst = limits.burstSeconds;
    if (device !== undefined) {
      this.#check(
        tenant,
        device.messages,
        limits.deviceMessagesPerSecond,
        burst,
        1,
        points,
        'device_messages',
        now,
      );
      this.#check(
        tenant,
        device.points,
        limits.devicePointsPerSecond,
        burst,
        points,
        points,
        'device_points',
        now,
      );
    }
    this.#checkTenant(tenant, limits, 1, points, now);
    if (device !== undefined) {
      device.messages.take(1, limits.deviceMessagesPerSecond);
      device.points.take(points, limits.devicePointsPerSecond);
    }
    this.#takeTenant(tenant, limits, 1, points);
  }

  /**
   * Charges one message carrying telemetry of several devices (a gateway's, for its
   * children): one message and its points to each device, and all of them to the tenant.
   * Every bucket is checked before any is charged, so a refusal charges nothing (the message
   * is sent again whole) and a full tenant bucket admits the message, as it does one device's.
   */
  admitEach(context: TenantContext, parts: readonly TelemetryPart[]): void {
    const now = this.#clock();
    const limits = this.#options.limitsOf(context.tenant.plan);
    const tenant = this.#tenant(context.tenantId, limits, now);
    const { deviceMessagesPerSecond: m, devicePointsPerSecond: p, burstSeconds: burst } = limits;
    const n = parts.length;
    let points = 0;
    for (const part of parts) points += part.points;
    const devices = parts.map((part) => this.#device(tenant, part.deviceId, limits, now));
    for (const [i, device] of devices.entries()) {
      const own = parts[i]!.points;
      this.#check(tenant, device.messages, m, burst, 1, points, 'device_messages', now, n);
      this.#check(tenant, device.points, p, burst, own, points, 'device_points', now, n);
    }
    this.#checkTenant(tenant, limits, n, points, now);
    for (const [i, device] of devices.entries()) {
      device.messages.take(1, m);
      device.points.take(parts[i]!.points, p);
    }
    this.#takeTenant(tenant, limits, n, points);
  }

  /**
   * Gives back what `admitEach` charged for a message that was then not written, so that
   * sending it again is charged as if it had not been tried (see TelemetryService.children).
   */
  refundEach(context: TenantContext, parts: readonly TelemetryPart[]): void {
    const now = this.#clock();
    const limits = this.#options.limitsOf(context.tenant.plan);
    const tenant = this.#tenant(context.tenantId, limits, now);
    const { deviceMessagesPerSecond: m, devicePointsPerSecond: p, burstSeconds: b } = limits;
    let points = 0;
    for (const part of parts) {
      points += part.points;
      // An evicted bucket starts full again: nothing to give back.
      const device = tenant.devices.get(part.deviceId);
      device?.messages.refund(1, m, m * b, now);
      device?.points.refund(part.points, p, p * b, now);
    }
    this.#refundTenant(tenant, limits, parts.length, points, now);
  }

  /** Counts a message as accepted once it is durable. */
  accepted(context: TenantContext, messages: number, points: number): void {
    const now = this.#clock();
    const tenant = this.#tenant(context.tenantId, this.#options.limitsOf(context.tenant.plan), now);
    tenant.acceptedMessages += messages;
    tenant.acceptedPoints += points;
  }

  /**
   * Charges a whole batch (`messages` messages, `points` points) to the tenant's buckets:
   * admitted when they hold it (or are full), then possibly left in debt; else refused whole.
   */
  admitBatch(context: TenantContext, messages: number, points: number): void {
    const now = this.#clock();
    const limits = this.#options.limitsOf(context.tenant.plan);
    const tenant = this.#tenant(context.tenantId, limits, now);
    this.#checkTenant(tenant, limits, messages, points, now);
    this.#takeTenant(tenant, limits, messages, points);
  }

  /**
   * Gives back what `admitBatch` charged for a batch that was then not applied: its commit
   * failed, or another attempt at the same batch applied it first.
   */
  refundBatch(context: TenantContext, messages: number, points: number): void {
    const now = this.#clock();
    const limits = this.#options.limitsOf(context.tenant.plan);
    this.#refundTenant(this.#tenant(context.tenantId, limits, now), limits, messages, points, now);
  }

  /** The tenant's plan, limits, usage in the current window and what its buckets hold now. */
  usage(context: TenantContext): TenantUsage {
    const now = this.#clock();
    const plan = context.tenant.plan;
    const limits = this.#options.limitsOf(plan);
    const tenant = this.#tenant(context.tenantId, limits, now);
    const remaining = (bucket: TokenBucket, rate: number) => {
      if (rate === 0) return null;
      bucket.refill(rate, rate * limits.burstSeconds, now);
      return Math.max(0, Math.floor(bucket.tokens));
    };
    return {
      plan,
      limits,
      window: {
        start: new Date(tenant.windowStart).toISOString(),
        durationMs: this.#options.usageWindowMs,
      },
      messages: {
        accepted: tenant.acceptedMessages,
        refused: tenant.refusedMessages,
        remaining: remaining(tenant.messages, limits.tenantMessagesPerSecond),
      },
      points: {
        accepted: tenant.acceptedPoints,
        refused: tenant.refusedPoints,
        remaining: remaining(tenant.points, limits.tenantPointsPerSecond),
      },
    };
  }

  /** Device buckets held now (for tests and the gauge). */
  get deviceBuckets(): number {
    return this.#devices.size;
  }

  /** Tenants whose buckets and usage are held now. */
  get tenantsHeld(): number {
    return this.#tenants.size;
  }

  /** Forgets a deleted tenant: its buckets, its devices' and its usage counters. */
  forgetTenant(tenantId: string): void {
    const tenant = this.#tenants.get(tenantId);
    if (tenant === undefined) return;
    this.#devices.dropTenant(tenant);
    this.#tenants.delete(tenantId);
  }

  #takeTenant(tenant: TenantEntry, limits: PlanLimits, messages: number, points: number): void {
    tenant.messages.take(messages, limits.tenantMessagesPerSecond);
    tenant.points.take(points, limits.tenantPointsPerSecond);
  }

  #refundTenant(
    tenant: TenantEntry,
    limits: PlanLimits,
    messages: number,
    points: number,
    now: number,
  ): void {
    const { tenantMessagesPerSecond: m, tenantPointsPerSecond: p, burstSeconds: b } = limits;
    tenant.messages.refund(messages, m, m * b, now);
    tenant.points.refund(points, p, p * b, now);
  }

  /** Throws when the tenant's buckets cannot take `messages` messages of `points` points in all. */
  #checkTenant(
    tenant: TenantEntry,
    limits: PlanLimits,
    messages: number,
    points: number,
    now: number,
  ): void {
    const burst = limits.burstSeconds;
    this.#check(
      tenant,
      tenant.messages,
      limits.tenantMessagesPerSecond,
      burst,
      messages,
      points,
      'tenant_messages',
      now,
      messages,
    );
    this.#check(
      tenant,
      tenant.points,
      limits.tenantPointsPerSecond,
      burst,
      points,
      points,
      'tenant_points',
      now,
      messages,
    );
  }

  #check(
    tenant: TenantEntry,
    bucket: TokenBucket,
    rate: number,
    burst: number,
    cost: number,
    points: number,
    reason: TelemetryQuotaReason,
    now: number,
    messages = 1,
  ): void {
    if (rate === 0) return;
    const capacity = rate * burst;
    bucket.refill(rate, capacity, now);
    if (bucket.covers(cost, capacity)) return;
    tenant.refusedMessages += messages;
    tenant.refusedPoints += points;
    this.#refusals[reason].inc();
    throw new QuotaExceededError({
      reason,
      quota: capacity,
      windowSeconds: burst,
      remaining: Math.max(0, Math.floor(bucket.tokens)),
      retryAfterSeconds: bucket.retryAfter(cost, rate, capacity),
    });
  }

  #tenant(tenantId: string, limits: PlanLimits, now: number): TenantEntry {
    const windowMs = this.#options.usageWindowMs;
    const windowStart = now - (now % windowMs);
    let tenant = this.#tenants.get(tenantId);
    if (tenant === undefined) {
      tenant = {
        limits,
        messages: new TokenBucket(limits.tenantMessagesPerSecond * limits.burstSeconds, now),
        points: new TokenBucket(limits.tenantPointsPerSecond * limits.burstSeconds, now),
        devices: new Map(),
        windowStart,
        acceptedMessages: 0,
        acceptedPoints: 0,
        refusedMessages: 0,
        refusedPoints: 0,
      };
      this.#tenants.set(tenantId, tenant);
      return tenant;
    }
    tenant.limits = limits;
    if (tenant.windowStart !== windowStart) {
      tenant.windowStart = windowStart;
      tenant.acceptedMessages = 0;
      tenant.acceptedPoints = 0;
      tenant.refusedMessages = 0;
      tenant.refusedPoints = 0;
    }
    return tenant;
  }

  #device(tenant: TenantEntry, deviceId: string, limits: PlanLimits, now: number): DeviceEntry {
    return this.#devices.get(tenant, deviceId, now, () => ({
      messages: new TokenBucket(limits.deviceMessagesPerSecond * limits.burstSeconds, now),
      points: new TokenBucket(limits.devicePointsPerSecond * limits.burstSeconds, now),
    }));
  }

  #idle(tenant: TenantEntry, device: DeviceEntry, now: number): boolean {
    const { deviceMessagesPerSecond: m, devicePointsPerSecond: p, burstSeconds: b } = tenant.limits;
    return (
      (m === 0 || device.messages.idle(m, m * b, now)) &&
      (p === 0 || device.points.idle(p, p * b, now))
    );
  }
}
