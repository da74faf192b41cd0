import type Provider from 'oidc-provider';
import { PalisadeError } from '../errors/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import type { IssuerDirectory } from './issuer-directory.ts';
import type { IssuerKeys } from './issuer-keys.ts';
import { createTenantProvider, type TenantProviderOptions } from './tenant-provider.ts';

/** A provider, and when a retired key of it ends its grace (it must be built again then). */
interface BuiltIssuer {
  readonly provider: Provider;
  readonly refreshAt: number | null;
  /** Its key set's generation, last found current in the store at `checkedAt`. */
  readonly generation: string;
  /** The kid of the cookie secret it signs with. */
  readonly cookieKid: string;
  checkedAt: number;
}

/** A live tenant and its issuer. */
export interface TenantIssuer {
  readonly tenant: Tenant;
  readonly provider: Provider;
}

/**
 * The tenants' `oidc-provider` instances, made on a tenant's first request and kept in a
 * bounded cache (least recently used evicted); building one also drops the tenant's expired
 * codes, tokens and revocations. An issuer is built again once a retired key or cookie secret
 * of its key set ends its grace, and when, checked every `recheckMs`, the stored keys are no
 * longer its own (another process rotated them). A request that may read or set the issuer's
 * cookies checks the stored cookie secret every time (one indexed read): once an operator
 * rotates or revokes it, no process signs or verifies another cookie with the old keys.
 * Only active tenants have an issuer: an unknown or deleted slug is not found, a suspended
 * tenant's issuer refuses everything.
 */
export class TenantIssuers {
  readonly #directory: IssuerDirectory;
  readonly #keys: IssuerKeys;
  readonly #options: TenantProviderOptions;
  readonly #max: number;
  readonly #recheckMs: number;
  readonly #clock: () => number;
  readonly #providers = new Map<string, Promise<BuiltIssuer>>();

  constructor(options: {
    directory: IssuerDirectory;
    keys: IssuerKeys;
    provider: TenantProviderOptions;
    max: number;
    /** How long an issuer's keys are trusted without reading the store again. */
    recheckMs: number;
    /** Epoch milliseconds now (tests move it). */
    clock?: (() => number) | undefined;
  }) {
    this.#directory = options.directory;
    this.#keys = options.keys;
    this.#options = options.provider;
    this.#max = options.max;
    this.#recheckMs = options.recheckMs;
    this.#clock = options.clock ?? Date.now;
  }

  /** `cookies`: the request may read or set the issuer's cookies (see the class comment). */
  async get(slug: string, use: { cookies?: boolean } = {}): Promise<TenantIssuer> {
    const tenant = (await this.#directory.get(slug))?.tenant;
    if (tenant === undefined || tenant.status === 'deleted')
      throw new PalisadeError('PALISADE_TENANT_NOT_FOUND', `no tenant has the issuer /t/${slug}`);
    if (tenant.status === 'suspended') {
      throw new PalisadeError(
        'PALISADE_TENANT_SUSPENDED',
        `tenant ${slug} is suspended; ask the platform admin to resume it`,
      );
    }
    const key = `${tenant.id}:${tenant.updatedAt}`;
    let provider = this.#providers.get(key);
    if (provider !== undefined && (await this.#stale(tenant, provider, use.cookies === true)))
      provider = undefined;
    if (provider === undefined) {
      this.#providers.delete(key);
      provider = this.#build(tenant);
      provider.catch(() => this.#providers.delete(key));
      if (this.#providers.size >= this.#max)
        this.#providers.delete(this.#providers.keys().next().value!);
    } else {
      this.#providers.delete(key);
    }
    this.#providers.set(key, provider);
    return { tenant, provider: (await provider).provider };
  }

  async #build(tenant: Tenant): Promise<BuiltIssuer> {
    const keys = await this.#keys.load(tenant);
    // The verifier may have cached the issuer before its first keys existed.
    this.#directory.forget(tenant.slug);
    await this.#options.store.purgeExpired(tenant.id, Date.now());
    return {
      provider: createTenantProvider(tenant, keys, this.#options),
      refreshAt: keys.refreshAt,
      generation: keys.generation,
      cookieKid: keys.cookieKid,
      checkedAt: this.#clock(),
    };
  }

  /** Whether the issuer must be built again (see the class comment); a failed build is not. */
  async #stale(tenant: Tenant, pending: Promise<BuiltIssuer>, cookies: boolean): Promise<boolean> {
    const built = await pending.catch(() => undefined);
    if (built === undefined) return false;
    const now = this.#clock();
    if (built.refreshAt !== null && built.refreshAt <= now) return true;
    if (cookies && (await this.#keys.currentCookie(tenant.id)) !== built.cookieKid) return true;
    if (now - built.checkedAt < this.#recheckMs) return false;
    built.checkedAt = now;
    return (await this.#keys.generation(tenant.id)) !== built.generation;
  }

  /** Drops every cached issuer (after a key rotation or tenant change). */
  invalidate(): void {
    this.#providers.clear();
  }

  /** Drops the tenant's cached issuer (its keys or status changed, or it was deleted). */
  forgetTenant(tenantId: string): void {
    const prefix = `${tenantId}:`;
    for (const key of this.#providers.keys())
      if (key.startsWith(prefix)) this.#providers.delete(key);
  }
}
