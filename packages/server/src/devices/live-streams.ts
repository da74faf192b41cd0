/**
 * The tenants' live telemetry streams (SSE) open in this process, so that a deleted tenant's
 * are ended at once rather than at their next write, every one at shutdown, and a tenant
 * holds no more than its plan's `telemetryStreamsMax`. Each stream holds a bus consumer (a
 * JetStream consumer on NATS, shared by every tenant): the cap keeps one tenant from loading
 * the bus and this process for all. It is counted per process, in memory, where the streams
 * are: exact, at no cost per stream, and never left counting a stream a stopped process held
 * (a count shared by the processes would need a store write per stream and a lease).
 */

import { Counter, Gauge, type Registry } from 'prom-client';
import { PalisadeError } from '../errors/index.ts';
import type { PlanLimits } from '../quotas/index.ts';
import type { TenantContext } from '../tenancy/index.ts';

/** A stream past the plan's cap: PALISADE_TELEMETRY_STREAM_LIMIT (429), nothing opened. */
export class TelemetryStreamLimitError extends PalisadeError {
  constructor(plan: string, cap: number) {
    super(
      'PALISADE_TELEMETRY_STREAM_LIMIT',
      `the tenant has ${cap} live telemetry streams open here, the most its plan ${JSON.stringify(plan)} allows (quotaTelemetryStreamsMax ${cap}); end one, or move the tenant to a plan with a higher quotaTelemetryStreamsMax`,
      [{ path: '', message: 'quotaTelemetryStreamsMax' }],
    );
  }
}

export interface LiveStreamOptions {
  /** The limits of a plan (see `planLimits`). */
  readonly limitsOf: (plan: string) => PlanLimits;
  readonly metrics?: Registry | undefined;
}

export class LiveStreams {
  readonly #limitsOf: (plan: string) => PlanLimits;
  readonly #byTenant = new Map<string, Set<() => void>>();
  readonly #refusals: { inc(): void };
  #open = 0;

  constructor(options: LiveStreamOptions) {
    this.#limitsOf = options.limitsOf;
    const registers = options.metrics === undefined ? [] : [options.metrics];
    this.#refusals = new Counter({
      name: 'palisade_telemetry_streams_refused_total',
      help: 'Live telemetry streams refused over the plan cap (quotaTelemetryStreamsMax)',
      registers,
    });
    const open = () => this.#open;
    new Gauge({
      name: 'palisade_telemetry_streams_open',
      help: 'Live telemetry streams open in this process, all tenants',
      registers,
      collect() {
        this.set(open());
      },
    });
  }

  /**
   * Takes a place for a stream of the tenant, before its consumer is made, or throws
   * TelemetryStreamLimitError (and counts the refusal). `end` ends the stream; the stream
   * calls `remove` itself once it ends, however it ends.
   */
  add(context: TenantContext, end: () => void): void {
    const cap = this.#limitsOf(context.tenant.plan).telemetryStreamsMax;
    const ends = this.#byTenant.get(context.tenantId) ?? new Set<() => void>();
    if (cap !== 0 && ends.size >= cap) {
      this.#refusals.inc();
      throw new TelemetryStreamLimitError(context.tenant.plan, cap);
    }
    this.#byTenant.set(context.tenantId, ends);
    ends.add(end);
    this.#open++;
  }

  remove(tenantId: string, end: () => void): void {
    const ends = this.#byTenant.get(tenantId);
    if (ends?.delete(end) === true) this.#open--;
    if (ends?.size === 0) this.#byTenant.delete(tenantId);
  }

  /** The tenant's streams open in this process. */
  openOf(tenantId: string): number {
    return this.#byTenant.get(tenantId)?.size ?? 0;
  }

  /** Ends every stream of the tenant. */
  endTenant(tenantId: string): void {
    for (const end of [...(this.#byTenant.get(tenantId) ?? [])]) end();
  }

  /** Ends every stream. */
  endAll(): void {
    for (const tenantId of [...this.#byTenant.keys()]) this.endTenant(tenantId);
  }
}
