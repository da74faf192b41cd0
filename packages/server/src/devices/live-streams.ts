/**
 * The tenants' live telemetry streams (SSE) open in this process, so that a deleted tenant's
 * are ended at once rather than at their next write, and every one at shutdown.
 */
export class LiveStreams {
  readonly #byTenant = new Map<string, Set<() => void>>();

  /** Registers a stream's `end`; it calls `remove` itself when it ends. */
  add(tenantId: string, end: () => void): void {
    const ends = this.#byTenant.get(tenantId) ?? new Set<() => void>();
    this.#byTenant.set(tenantId, ends);
    ends.add(end);
  }

  remove(tenantId: string, end: () => void): void {
    const ends = this.#byTenant.get(tenantId);
    ends?.delete(end);
    if (ends?.size === 0) this.#byTenant.delete(tenantId);
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
