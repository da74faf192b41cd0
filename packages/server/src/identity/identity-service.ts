import type { Kms } from '@palisade/crypto';
import { Counter, type Registry } from 'prom-client';
import type { RoleGrants } from '../authz/index.ts';
import type { GroupCommitter } from '../commit/index.ts';
import { andThen, type MaybePromise } from '../maybe-promise/index.ts';
import type { ControlPlaneIdentityStore, DpopProofStore, ShardStore } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import { AccessTokenVerifier } from './access-token-verifier.ts';
import { ClientService } from './client-service.ts';
import { DpopProofs } from './dpop-proof.ts';
import { InteractionPages } from './interactions.ts';
import { IssuerDirectory } from './issuer-directory.ts';
import { IssuerKeys } from './issuer-keys.ts';
import { IssuerUrls } from './issuer-urls.ts';
import { RevocationList } from './revocation-list.ts';
import { type SignInVerifier, storedAccounts } from './sign-in.ts';
import { TenantAudit } from './tenant-audit.ts';
import { TenantIssuers } from './tenant-issuers.ts';
import { type IssuerLifetimes, longestCookieMs } from './tenant-provider.ts';

export interface IdentityOptions {
  readonly store: ControlPlaneIdentityStore;
  /** The DPoP proofs every API process of the platform accepted. */
  readonly dpopProofs: DpopProofStore;
  readonly shards: ReadonlyMap<string, ShardStore>;
  readonly committer: GroupCommitter;
  readonly kms: Kms;
  /** The public base URL (no trailing slash), read when first needed. */
  readonly publicUrl: () => string;
  readonly roles: RoleGrants;
  /** Checks users' passwords (the users capability). */
  readonly signIn: SignInVerifier;
  readonly lifetimes: IssuerLifetimes;
  /** How long issuers, keys and revocations are trusted without asking the store again. */
  readonly cacheTtlMs: number;
  /** Most tenant issuers kept in memory. */
  readonly issuerCacheMax: number;
  /** Most tenants (`foundMax`) and unknown slugs (`missingMax`) the issuer directory caches. */
  readonly issuerDirectory: { readonly foundMax: number; readonly missingMax: number };
  /** Where the DPoP proof memory's refusals are counted. */
  readonly metrics?: Registry | undefined;
}

/**
 * One OAuth 2.1 / OpenID Connect issuer per tenant, its clients, and the verification of the
 * access tokens it issues: the identity capability's single entry point.
 */
export class IdentityService {
  readonly urls: IssuerUrls;
  readonly issuers: TenantIssuers;
  readonly clients: ClientService;
  readonly tokens: AccessTokenVerifier;
  readonly interactions: InteractionPages;
  readonly #store: ControlPlaneIdentityStore;
  readonly #keys: IssuerKeys;
  readonly #directory: IssuerDirectory;
  readonly #revocations: RevocationList;
  readonly #proofs: DpopProofs;

  constructor(options: IdentityOptions) {
    const audit = new TenantAudit(options.shards, options.committer);
    const accessTokenMs = options.lifetimes.accessTokenSeconds * 1000;
    this.#store = options.store;
    this.urls = new IssuerUrls(options.publicUrl);
    this.#keys = new IssuerKeys({
      store: options.store,
      kms: options.kms,
      audit,
      retiredGraceMs: accessTokenMs,
      cookieGraceMs: longestCookieMs(options.lifetimes),
    });
    const issuerLookups = new Counter({
      name: 'palisade_issuer_store_lookups_total',
      help: 'Tenant issuers (by slug, from tokens and /t/{slug} paths) read from the control plane because the cache did not answer',
      registers: options.metrics === undefined ? [] : [options.metrics],
    });
    this.#directory = new IssuerDirectory(options.store, this.#keys, {
      ttlMs: options.cacheTtlMs,
      ...options.issuerDirectory,
      lookedUp: () => issuerLookups.inc(),
    });
    const revocations = new RevocationList(options.store, options.cacheTtlMs);
    this.#revocations = revocations;
    const proofsRefused = new Counter({
      name: 'palisade_dpop_proofs_refused_total',
      help: 'DPoP proofs refused because the replay memory held its most proofs still within their acceptance window',
      registers: options.metrics === undefined ? [] : [options.metrics],
    });
    this.#proofs = new DpopProofs({
      store: options.dpopProofs,
      refused: () => proofsRefused.inc(),
    });
    this.tokens = new AccessTokenVerifier(this.urls, this.#directory, revocations, this.#proofs);
    this.clients = new ClientService({
      store: options.store,
      audit,
      roles: options.roles,
      urls: this.urls,
      revocations,
      accessTokenMs,
    });
    this.issuers = new TenantIssuers({
      directory: this.#directory,
      keys: this.#keys,
      max: options.issuerCacheMax,
      recheckMs: options.cacheTtlMs,
      provider: {
        urls: this.urls,
        store: options.store,
        revocations,
        accounts: storedAccounts(options.shards),
        verifier: this.tokens,
        lifetimes: options.lifetimes,
      },
    });
    this.interactions = new InteractionPages(options.signIn);
  }

  /** The tenant whose issuer is `/t/<slug>`, whatever its status; at once when it is cached. */
  tenantOf(slug: string): MaybePromise<Tenant | undefined> {
    return andThen(this.#directory.get(slug), (entry) => entry?.tenant);
  }

  /** Retires the tenant's signing keys and makes new ones; tokens already issued stay valid. */
  async rotateKeys(tenant: Tenant, actor: string): Promise<void> {
    await this.#keys.rotate(tenant, actor);
    this.forgetTenant(tenant.id);
  }

  /**
   * Crypto-shredding at tenant deletion: the issuer's keys (and clients, grants, tokens) are
   * destroyed, so nothing it signed verifies any more, whatever copy of the store survives;
   * the DPoP proofs its clients sent go too.
   */
  async shred(tenant: Tenant): Promise<void> {
    await this.#store.deleteIssuer(tenant.id);
    this.forgetTenant(tenant.id);
    await this.#proofs.eraseTenant(tenant.id);
  }

  /** What this process holds of tenants' tokens: cached revocation lists and DPoP proofs. */
  get held(): { readonly revocationLists: number; readonly dpopProofs: number } {
    return { revocationLists: this.#revocations.tenantsHeld, dpopProofs: this.#proofs.remembered };
  }

  /** Forgets a deleted tenant's revocations and remembered DPoP proofs. */
  forgetDeleted(tenantId: string): void {
    this.#revocations.forgetTenant(tenantId);
    this.#proofs.forgetTenant(tenantId);
  }

  /**
   * Forgets what is cached of one tenant: its issuer, keys and verified tokens (it changed,
   * was suspended or deleted, or its keys were rotated). Other tenants' stay cached.
   */
  forgetTenant(tenantId: string): void {
    this.#directory.forgetTenant(tenantId);
    this.issuers.forgetTenant(tenantId);
    this.tokens.forgetTenant(tenantId);
  }
}
