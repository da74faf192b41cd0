/**
 * A token bucket that refills continuously at `rate` tokens per second up to `capacity`.
 * A cost larger than the capacity is admitted when the bucket is full and leaves it in debt,
 * so an oversized message or an edge batch is never refused forever, and is paid back by
 * waiting. Time is passed in (milliseconds), so tests drive it with a fake clock.
 */
export class TokenBucket {
  tokens: number;
  #updatedAt: number;

  /** Full; made for no rate (capacity 0), full of whatever a rate set later gives it. */
  constructor(capacity: number, now: number) {
    this.tokens = capacity === 0 ? Number.POSITIVE_INFINITY : capacity;
    this.#updatedAt = now;
  }

  /** Adds what `rate` earned since the last refill, up to `capacity`. */
  refill(rate: number, capacity: number, now: number): void {
    const elapsed = Math.max(0, now - this.#updatedAt);
    this.tokens = Math.min(capacity, this.tokens + (elapsed * rate) / 1000);
    this.#updatedAt = now;
  }

  /**
   * Charges `cost`. A bucket of no limit (`rate` 0) keeps no count and stays full: charged, a
   * tenant's traffic on an unlimited plan would leave it as deep in debt as it sent, to be paid
   * back once the plan sets a rate, which should find it full.
   */
  take(cost: number, rate: number): void {
    if (rate === 0) this.tokens = Number.POSITIVE_INFINITY;
    else this.tokens -= cost;
  }

  /**
   * Gives back a charge of `cost` whose work was not done: the bucket then holds what it
   * would have without that charge.
   */
  refund(cost: number, rate: number, capacity: number, now: number): void {
    this.refill(rate, capacity, now);
    this.tokens = Math.min(capacity, this.tokens + cost);
  }

  /** True when `cost` (or, above the capacity, a full bucket) is available; call after refill. */
  covers(cost: number, capacity: number): boolean {
    return this.tokens >= Math.min(cost, capacity);
  }

  /** Seconds until `covers(cost)` holds, at least 1 (the `Retry-After` granularity). */
  retryAfter(cost: number, rate: number, capacity: number): number {
    const missing = Math.min(cost, capacity) - this.tokens;
    return Math.max(1, Math.ceil(missing / rate));
  }

  /** True when the bucket holds `capacity` again at `now`: it then carries no state and may be dropped. */
  idle(rate: number, capacity: number, now: number): boolean {
    return this.tokens + ((now - this.#updatedAt) * rate) / 1000 >= capacity;
  }
}
