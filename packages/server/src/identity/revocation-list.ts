import { setNewest } from '../caches/index.ts';
import { andThen, type MaybePromise, Settling } from '../maybe-promise/index.ts';
import type { ControlPlaneIdentityStore, RevocationKind, RevocationRow } from '../store/index.ts';

interface TenantRevocations {
  readonly names: Settling<Set<string>>;
  readonly expires: number;
}

/** Upper bound of tenants whose revocations are cached; beyond it the oldest is read again. */
const TENANT_CACHE_MAX = 10_000;

const key = (kind: RevocationKind, value: string) => `${kind}:${value}`;

/**
 * What the gateway must refuse although its signature still verifies: single tokens, grants
 * (a refresh-token family) and clients. Each tenant's live revocations are read once per
 * `ttlMs` and held as a set, so a valid token costs no query; revocations made in this
 * process apply at once, those of other processes within `ttlMs`.
 */
export class RevocationList {
  readonly #store: ControlPlaneIdentityStore;
  readonly #ttlMs: number;
  readonly #tenants = new Map<string, TenantRevocations>();

  constructor(store: ControlPlaneIdentityStore, ttlMs: number) {
    this.#store = store;
    this.#ttlMs = ttlMs;
  }

  /**
   * The first of the token's jti, grant and client that is revoked, if any; at once when the
   * tenant's revocations are cached.
   */
  revoked(
    tenantId: string,
    token: {
      readonly jti: string;
      readonly grantId: string | undefined;
      readonly clientId: string;
    },
  ): MaybePromise<RevocationKind | undefined> {
    return andThen(this.#names(tenantId), (names): RevocationKind | undefined => {
      if (names.size === 0) return undefined;
      if (names.has(key('jti', token.jti))) return 'jti';
      if (token.grantId !== undefined && names.has(key('grant', token.grantId))) return 'grant';
      if (names.has(key('client', token.clientId))) return 'client';
      return undefined;
    });
  }

  /** Stores a revocation and applies it in this process at once. */
  async revoke(tenantId: string, revocation: RevocationRow): Promise<void> {
    await this.#store.addRevocation(tenantId, revocation);
    this.applied(tenantId, revocation);
  }

  /** Applies in this process a revocation the store already holds. */
  applied(tenantId: string, revocation: RevocationRow): void {
    const cached = this.#tenants.get(tenantId);
    if (cached === undefined) return;
    void cached.names.promise.then((names) => names.add(key(revocation.kind, revocation.value)));
  }

  /** Tenants whose revocations are cached now. */
  get tenantsHeld(): number {
    return this.#tenants.size;
  }

  /** Forgets the tenant's cached revocations (deleted: its issuer is gone). */
  forgetTenant(tenantId: string): void {
    this.#tenants.delete(tenantId);
  }

  #names(tenantId: string): MaybePromise<Set<string>> {
    const now = Date.now();
    const cached = this.#tenants.get(tenantId);
    if (cached !== undefined && cached.expires > now) return cached.names.current;
    const names = this.#store
      .listRevocations(tenantId, now)
      .then((rows) => new Set(rows.map((row) => key(row.kind, row.value))));
    const entry = { names: new Settling(names), expires: now + this.#ttlMs };
    setNewest(this.#tenants, tenantId, entry, TENANT_CACHE_MAX);
    names.catch(() => {
      if (this.#tenants.get(tenantId) === entry) this.#tenants.delete(tenantId);
    });
    return names;
  }
}
