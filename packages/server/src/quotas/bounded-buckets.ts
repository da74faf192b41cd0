/**
 * Buckets of one kind (a principal's, a device's) kept per tenant, under one bound across all
 * tenants, so a flood of new principals or devices cannot grow memory. At the bound, every
 * idle (refilled) bucket is dropped, which loses nothing; if that is not enough to get under
 * 90% of the bound, the oldest go too (their owners start full again). Each pass frees a
 * tenth of the bound, so the cost per new bucket stays constant on average.
 */
export class BoundedBuckets<Tenant, Bucket> {
  readonly #max: number;
  readonly #tenants: () => Iterable<Tenant>;
  readonly #bucketsOf: (tenant: Tenant) => Map<string, Bucket>;
  readonly #idle: (tenant: Tenant, bucket: Bucket, now: number) => boolean;
  #size = 0;

  constructor(options: {
    readonly max: number;
    readonly tenants: () => Iterable<Tenant>;
    readonly bucketsOf: (tenant: Tenant) => Map<string, Bucket>;
    readonly idle: (tenant: Tenant, bucket: Bucket, now: number) => boolean;
  }) {
    this.#max = options.max;
    this.#tenants = options.tenants;
    this.#bucketsOf = options.bucketsOf;
    this.#idle = options.idle;
  }

  /** Buckets held now, across all tenants. */
  get size(): number {
    return this.#size;
  }

  /** The tenant's bucket for `key`, made by `create` (after eviction at the bound) if new. */
  get(tenant: Tenant, key: string, now: number, create: () => Bucket): Bucket {
    const found = this.#bucketsOf(tenant).get(key);
    if (found !== undefined) return found;
    if (this.#size >= this.#max) this.#evict(now);
    const bucket = create();
    this.#bucketsOf(tenant).set(key, bucket);
    this.#size++;
    return bucket;
  }

  /** Drops every bucket of `tenant` (the tenant was deleted); its map is left empty. */
  dropTenant(tenant: Tenant): void {
    const buckets = this.#bucketsOf(tenant);
    this.#size -= buckets.size;
    buckets.clear();
  }

  #evict(now: number): void {
    const target = Math.floor(this.#max * 0.9);
    for (const tenant of this.#tenants()) {
      const buckets = this.#bucketsOf(tenant);
      for (const [key, bucket] of buckets) {
        if (this.#idle(tenant, bucket, now)) this.#drop(buckets, key);
      }
    }
    for (const tenant of this.#tenants()) {
      const buckets = this.#bucketsOf(tenant);
      for (const key of buckets.keys()) {
        if (this.#size <= target) return;
        this.#drop(buckets, key);
      }
    }
  }

  #drop(buckets: Map<string, Bucket>, key: string): void {
    if (buckets.delete(key)) this.#size--;
  }
}
