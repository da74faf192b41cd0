/** The control plane's record of each tenant's CORS allow-list. */
export interface ControlPlaneCorsStore {
  /** The tenant's allowed origins, sorted. */
  listOrigins(tenantId: string): Promise<string[]>;
  /** Replaces the tenant's whole list in one transaction. */
  replaceOrigins(tenantId: string, origins: readonly string[]): Promise<void>;
  /** True when some active tenant allows `origin` (what a credential-less preflight can know). */
  anyAllows(origin: string): Promise<boolean>;
}
