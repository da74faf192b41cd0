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
  readonly expires: number;
}

/** Upper bound of cached issuers, so a flood of made-up issuers cannot grow memory. */
const ISSUER_CACHE_MAX = 10_000;

/**
 * Slug → tenant and public keys, cached for `ttlMs` so a valid token costs no query. Tenant
 * changes (suspension, deletion) and key rotations in this process clear it at once.
 */
export class IssuerDirectory {
  readonly #store: ControlPlaneIdentityStore;
  readonly #keys: IssuerKeys;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, Cached>();

  constructor(store: ControlPlaneIdentityStore, keys: IssuerKeys, ttlMs: number) {
    this.#store = store;
    this.#keys = keys;
    this.#ttlMs = ttlMs;
  }

  /** The issuer of `slug`, or undefined; at once when it is cached and loaded. */
  get(slug: string): MaybePromise<IssuerEntry | undefined> {
    const now = Date.now();
    const cached = this.#cache.get(slug);
    if (cached !== undefined && cached.expires > now) return cached.entry.current;
    const entry = this.#load(slug);
    if (this.#cache.size >= ISSUER_CACHE_MAX) this.#cache.clear();
    const fresh = { entry: new Settling(entry), expires: now + this.#ttlMs };
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
