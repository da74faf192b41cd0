import { Counter, type Registry } from 'prom-client';
import { RateLimitedError } from './quota-error.ts';
import { TokenBucket } from './token-bucket.ts';

export interface SignInLimitOptions {
  /** Attempts one address may make per minute at one tenant; 0 is unlimited. */
  readonly perMinute: number;
  /** Most (tenant, address) buckets held in memory; the least recently used go first. */
  readonly maxBuckets: number;
  readonly clock?: (() => number) | undefined;
  readonly metrics?: Registry | undefined;
}

/**
 * Attempts at a tenant's unauthenticated sign-in pages (the sign-in and consent form, the
 * invitation form, the device-flow code form) per client address: a token bucket per
 * (tenant, address) holding a minute's worth. The per-user lock-out stops guessing one
 * account's password; this slows one address trying a password across many accounts. Keyed
 * by tenant too, so one tenant's users behind a shared address cannot lock out another's.
 */
export class SignInLimits {
  readonly #options: SignInLimitOptions;
  readonly #clock: () => number;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #refusals: { inc(): void };

  constructor(options: SignInLimitOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    const counter = new Counter({
      name: 'palisade_sign_in_attempts_refused_total',
      help: 'Sign-in, invitation and device-code form submissions refused over the per-address rate',
      registers: options.metrics === undefined ? [] : [options.metrics],
    });
    this.#refusals = counter;
  }

  /** Charges one attempt by `address` at tenant `slug`; returns the refusal if over the rate. */
  admit(slug: string, address: string): RateLimitedError | undefined {
    const capacity = this.#options.perMinute;
    if (capacity === 0) return undefined;
    const rate = capacity / 60;
    const now = this.#clock();
    const key = `${slug} ${address}`;
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(capacity, now);
      if (this.#buckets.size >= this.#options.maxBuckets)
        this.#buckets.delete(this.#buckets.keys().next().value!);
    } else {
      this.#buckets.delete(key);
      bucket.refill(rate, capacity, now);
    }
    this.#buckets.set(key, bucket);
    if (!bucket.covers(1, capacity)) {
      this.#refusals.inc();
      return new RateLimitedError({
        reason: 'address_sign_in',
        quota: capacity,
        windowSeconds: 60,
        remaining: 0,
        retryAfterSeconds: bucket.retryAfter(1, rate, capacity),
      });
    }
    bucket.tokens -= 1;
    return undefined;
  }

  /** (Tenant, address) buckets held now. */
  get buckets(): number {
    return this.#buckets.size;
  }

  /** Forgets the buckets of the tenant at `slug` (deleted: the slug may be given again). */
  forgetTenant(slug: string): void {
    const prefix = `${slug} `;
    for (const key of this.#buckets.keys()) if (key.startsWith(prefix)) this.#buckets.delete(key);
  }
}
