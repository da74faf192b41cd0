import { type CryptoKey, importJWK } from 'jose';
import { type MaybePromise, Settling } from '../maybe-promise/index.ts';
import type { ControlPlaneIdentityStore } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import type { IssuerKeys } from './issuer-keys.ts';

/** A tenant issuer as the gateway verifies its tokens: the tenant and its public keys by kid. */
export interface IssuerEntry {
  readonly tenant: Tenant;
  readonly keys: ReadonlyMap<string, { readonly alg: string; readonly key: CryptoKey }>;
}

interface Cached {
  readonly entry: Settling<IssuerEntry | undefined>;
  /** Epoch milliseconds when it was read from the store. */
  readonly readAt: number;
  /** When the issuer was last read again for a key id it lacked (see `reload`). */
  readonly reloadedAt: number | undefined;
}

/** Upper bound of cached issuers, so a flood of made-up issuers cannot grow memory. */
const ISSUER_CACHE_MAX = 10_000;
/**
 * Shortest time between two reads of one issuer for key ids it lacks: tokens with made-up key
 * ids cost the store at most one read per tenant this often, and a token signed by a key made
 * elsewhere just after such a read is refused at most this long.
 */
const UNKNOWN_KID_RELOAD_MS = 1000;

/**
 * Slug → tenant and public keys, cached for `ttlMs` so a valid token costs no query. Tenant
 * changes (suspension, deletion) and key rotations in this process clear it at once; a key
 * rotated in another process is found by `reload`, when a token names a key id not cached.
 */
export class IssuerDirectory {
  readonly #store: ControlPlaneIdentityStore;
  readonly #keys: IssuerKeys;
  readonly #ttlMs: number;
  readonly #clock: () => number;
  readonly #cache = new Map<string, Cached>();

  constructor(
    store: ControlPlaneIdentityStore,
    keys: IssuerKeys,
    ttlMs: number,
    /** Epoch milliseconds now (tests move it). */
    clock: () => number = Date.now,
  ) {
    this.#store = store;
    this.#keys = keys;
    this.#ttlMs = ttlMs;
    this.#clock = clock;
  }

  /** The issuer of `slug`, or undefined; at once when it is cached and loaded. */
  get(slug: string): MaybePromise<IssuerEntry | undefined> {
    const cached = this.#cache.get(slug);
    if (cached !== undefined && cached.readAt + this.#ttlMs > this.#clock())
      return cached.entry.current;
    return this.#read(slug, cached?.reloadedAt);
  }

  /**
   * The issuer of `slug` read from the store again, for a token signed by a key id it lacks
   * (another process may have rotated its keys); the cached one when it was already read
   * again for that reason less than UNKNOWN_KID_RELOAD_MS ago.
   */
  reload(slug: string): Promise<IssuerEntry | undefined> {
    const cached = this.#cache.get(slug);
    const now = this.#clock();
    if (cached?.reloadedAt !== undefined && cached.reloadedAt + UNKNOWN_KID_RELOAD_MS > now)
      return cached.entry.promise;
    return this.#read(slug, now);
  }

  #read(slug: string, reloadedAt: number | undefined): Promise<IssuerEntry | undefined> {
    const entry = this.#load(slug);
    if (this.#cache.size >= ISSUER_CACHE_MAX) this.#cache.clear();
    const fresh = { entry: new Settling(entry), readAt: this.#clock(), reloadedAt };
    this.#cache.set(slug, fresh);
    entry.catch(() => {
      if (this.#cache.get(slug) === fresh) this.#cache.delete(slug);
    });
    return entry;
  }

  invalidate(): void {
    this.#cache.clear();
  }

  /** Forgets one issuer (its keys were just made). */
  forget(slug: string): void {
    this.#cache.delete(slug);
  }

  async #load(slug: string): Promise<IssuerEntry | undefined> {
    const tenant = await this.#store.tenantBySlug(slug);
    if (tenant === undefined) return undefined;
    // Imported once as WebCrypto keys: jose would otherwise convert a KeyObject per request.
    const keys = new Map<string, { alg: string; key: CryptoKey }>();
    for (const jwk of await this.#keys.published(tenant.id))
      keys.set(jwk.kid, { alg: jwk.alg, key: (await importJWK(jwk, jwk.alg)) as CryptoKey });
    return { tenant, keys };
  }
}
