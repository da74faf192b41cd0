/**
 * Takes each service token once: remembers the `jti` of every token it accepted until the
 * token expires, so a message copied off the wire and sent again within its lifetime is
 * refused. Memory is bounded by the message rate times the token lifetime.
 */
export class ReplayGuard {
  /** `jti` → expiry, in insertion order (expiries of one lifetime setting ascend with it). */
  readonly #seen = new Map<string, number>();

  /** True the first time `jti` is offered before `exp`; false for a replay. */
  take(jti: string, exp: number, now: number = Date.now()): boolean {
    for (const [seen, until] of this.#seen) {
      if (until > now) break;
      this.#seen.delete(seen);
    }
    if (this.#seen.has(jti)) return false;
    this.#seen.set(jti, exp);
    return true;
  }
}
