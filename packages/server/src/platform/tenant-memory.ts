/**
 * What a process keeps in memory per tenant besides its credential caches: request and
 * telemetry rate buckets with their usage counters, sign-in buckets, DPoP proofs, revocation
 * lists, CORS allow-lists, policy states and the Cedar engine's policy sets. Each holder forgets a deleted tenant when the deletion reaches this
 * process (at once in the deleting one, by the `tenant.deleted` notice in the others), and
 * what a suspension, resumption or plan change makes stale when that does. How much each
 * holds is on /metrics (`palisade_tenant_memory_entries`, by holder).
 */
import { Gauge, type Registry } from 'prom-client';

/** A deleted tenant as every process is told of it. */
export interface ForgottenTenant {
  readonly id: string;
  /** Its slug, which may be given to a new tenant; absent from an older process's notice. */
  readonly slug: string | undefined;
}

/** One holder of per-tenant state. */
export interface TenantHolder {
  /** Entries held now, of all tenants (what the gauge reports). */
  readonly entries: () => number;
  /** Forgets everything held of a deleted tenant. */
  readonly deleted: (tenant: ForgottenTenant) => void;
  /** Forgets what the tenant's suspension, resumption or plan change made stale. */
  readonly changed?: ((tenantId: string) => void) | undefined;
}

/** This process's holders of per-tenant state, by name. */
export class TenantMemory {
  readonly #holders = new Map<string, TenantHolder>();

  constructor(metrics: Registry) {
    const holders = this.#holders;
    new Gauge({
      name: 'palisade_tenant_memory_entries',
      help: 'Per-tenant entries this process holds in memory (rate buckets, usage, sign-in buckets, DPoP proofs, revocation and CORS lists, policy states and Cedar policy sets), by holder',
      labelNames: ['holder'],
      registers: [metrics],
      collect() {
        for (const [holder, part] of holders) this.set({ holder }, part.entries());
      },
    });
  }

  /** Adds a holder, named as the gauge's `holder` label. */
  hold(name: string, holder: TenantHolder): void {
    this.#holders.set(name, holder);
  }

  deleted(tenant: ForgottenTenant): void {
    for (const holder of this.#holders.values()) holder.deleted(tenant);
  }

  changed(tenantId: string): void {
    for (const holder of this.#holders.values()) holder.changed?.(tenantId);
  }
}
