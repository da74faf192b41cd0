import { type CryptoKey, importJWK } from 'jose';
import { LookupCache } from '../caches/index.ts';
import type { MaybePromise } from '../maybe-promise/index.ts';
import type { ControlPlaneIdentityStore } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import type { IssuerKeys } from './issuer-keys.ts';

/** A tenant issuer as the gateway verifies its tokens: the tenant and its public keys by kid. */
export interface IssuerEntry {
  readonly tenant: Tenant;
  readonly keys: ReadonlyMap<string, { readonly alg: string; readonly key: CryptoKey }>;
}

/** A found issuer as cached, and when it was last read again for a key id it lacked. */
interface Found {
  readonly entry: IssuerEntry;
  readonly reloadedAt: number | undefined;
}

/** A read of the store under way: asked for again, it is awaited rather than made twice. */
interface Reading {
  readonly entry: Promise<IssuerEntry | undefined>;
  readonly reloadedAt: number | undefined;
}

export interface IssuerDirectoryOptions {
  /** How long an issuer, or a slug found to be no tenant's, is trusted. */
  readonly ttlMs: number;
  /** Most tenants' issuers cached (`authCacheMax`); beyond it the oldest is read again. */
  readonly foundMax: number;
  /** Most slugs remembered as no tenant's (`authCacheMissesMax`), apart from found ones. */
  readonly missingMax: number;
  /** Told of each read of the store (the cache did not answer). */
  readonly lookedUp?: (() => void) | undefined;
  /** Epoch milliseconds now (tests move it). */
  readonly clock?: (() => number) | undefined;
}

/**
 * Shortest time between two reads of one issuer for key ids it lacks: tokens with made-up key
 * ids cost the store at most one read per tenant this often, and a token signed by a key made
 * elsewhere just after such a read is refused at most this long.
 */
const UNKNOWN_KID_RELOAD_MS = 1000;

/**
 * Slug → tenant and public keys, cached for `ttlMs` so a valid token costs no query. Slugs
 * that name no tenant are cached under a bound of their own, so tokens naming made-up issuers
 * or requests to made-up `/t/{slug}` paths only push out other made-up slugs, never a real
 * issuer. A tenant's change (suspension, deletion, key rotation) drops its entry here at once;
 * a key rotated in another process is found by `reload`, when a token names a key id not cached.
 */
export class IssuerDirectory {
  readonly #store: ControlPlaneIdentityStore;
  readonly #keys: IssuerKeys;
  readonly #clock: () => number;
  readonly #lookedUp: () => void;
  readonly #cache: LookupCache<Found>;
  readonly #reading = new Map<string, Reading>();
  /** Bumped by each forgetting: a read begun before it is not cached. */
  #generation = 0;

  constructor(store: ControlPlaneIdentityStore, keys: IssuerKeys, options: IssuerDirectoryOptions) {
    this.#store = store;
    this.#keys = keys;
    this.#clock = options.clock ?? Date.now;
    this.#lookedUp = options.lookedUp ?? (() => undefined);
    this.#cache = new LookupCache({
      ttlMs: options.ttlMs,
      foundMax: options.foundMax,
      missingMax: options.missingMax,
    });
  }

  /** The issuer of `slug`, or undefined; at once when it is cached. */
  get(slug: string): MaybePromise<IssuerEntry | undefined> {
    const cached = this.#cache.get(slug, this.#clock());
    if (cached !== undefined) return cached.value?.entry;
    return this.#reading.get(slug)?.entry ?? this.#read(slug, undefined);
  }

  /**
   * The issuer of `slug` read from the store again, for a token signed by a key id it lacks
   * (another process may have rotated its keys); the cached one when it was already read
   * again for that reason less than UNKNOWN_KID_RELOAD_MS ago.
   */
  reload(slug: string): Promise<IssuerEntry | undefined> {
    const now = this.#clock();
    const recent = (reloadedAt: number | undefined) =>
      reloadedAt !== undefined && reloadedAt + UNKNOWN_KID_RELOAD_MS > now;
    const reading = this.#reading.get(slug);
    if (reading !== undefined && recent(reading.reloadedAt)) return reading.entry;
    const cached = this.#cache.get(slug, now)?.value;
    if (cached !== undefined && recent(cached.reloadedAt)) return Promise.resolve(cached.entry);
    return this.#read(slug, now);
  }

  #read(slug: string, reloadedAt: number | undefined): Promise<IssuerEntry | undefined> {
    const generation = this.#generation;
    const startedAt = this.#clock();
    const entry = this.#load(slug);
    const reading = { entry, reloadedAt };
    this.#reading.set(slug, reading);
    const done = () => {
      if (this.#reading.get(slug) === reading) this.#reading.delete(slug);
    };
    entry.then((found) => {
      done();
      if (generation === this.#generation)
        this.#cache.set(slug, found && { entry: found, reloadedAt }, startedAt);
    }, done);
    return entry;
  }

  /** Forgets one tenant's issuer (it changed, was deleted, or its keys were rotated). */
  forgetTenant(tenantId: string): void {
    this.#generation++;
    this.#reading.clear();
    this.#cache.dropFound((found) => found.entry.tenant.id === tenantId);
  }

  /** Forgets one issuer (its keys were just made). */
  forget(slug: string): void {
    this.#generation++;
    this.#reading.delete(slug);
    this.#cache.delete(slug);
  }

  /** Issuers cached now: found, and slugs known to be no tenant's. */
  get sizes(): { readonly found: number; readonly missing: number } {
    return this.#cache.sizes;
  }

  async #load(slug: string): Promise<IssuerEntry | undefined> {
    this.#lookedUp();
    const tenant = await this.#store.tenantBySlug(slug);
    if (tenant === undefined) return undefined;
    // Imported once as WebCrypto keys: jose would otherwise convert a KeyObject per request.
    const keys = new Map<string, { alg: string; key: CryptoKey }>();
    for (const jwk of await this.#keys.published(tenant.id))
      keys.set(jwk.kid, { alg: jwk.alg, key: (await importJWK(jwk, jwk.alg)) as CryptoKey });
    return { tenant, keys };
  }
}
