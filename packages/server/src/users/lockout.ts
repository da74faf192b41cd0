/** When repeated failed sign-ins of a user name lock it, and for how long. */
export interface LockoutPolicy {
  /** Consecutive failures that lock the name. */
  readonly threshold: number;
  /**
   * How long failures keep counting: from the first failure of a run (or the end of the last
   * lock, whichever is later), after which the next failure starts the count again.
   */
  readonly windowMs: number;
  /** The first lock's length; each further failure doubles it. */
  readonly baseMs: number;
  /** The longest lock. */
  readonly maxMs: number;
  /** Most names a tenant keeps failures of (see TenantUserWriter.addSignInFailure). */
  readonly namesMax: number;
}

/** How long to lock after the `failures`-th consecutive failure, or 0 for no lock. */
export function lockoutMs(policy: LockoutPolicy, failures: number): number {
  if (failures < policy.threshold) return 0;
  const doublings = Math.min(failures - policy.threshold, 30);
  return Math.min(policy.baseMs * 2 ** doublings, policy.maxMs);
}
