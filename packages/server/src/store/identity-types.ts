/**
 * Storage of each tenant's OAuth 2.1 / OpenID Connect issuer, in the control plane: the
 * tenant's clients, its signing keys (private parts sealed by the KMS), the protocol
 * artifacts `oidc-provider` persists (codes, refresh tokens, grants, sessions, interactions)
 * and the revocations the gateway checks. Every row is keyed by tenant.
 */
import type { Tenant } from '../tenancy/index.ts';

/** A registered OAuth client of one tenant. */
export interface OAuthClientRow {
  readonly tenantId: string;
  readonly id: string;
  readonly name: string;
  /** `service`: client credentials with roles; `user`: users sign in (code + PKCE, device). */
  readonly kind: 'service' | 'user';
  /** SHA-256 of the secret; null for a public client. */
  readonly secretHash: string | null;
  readonly redirectUris: readonly string[];
  /** Role names a service client's tokens carry. */
  readonly roles: readonly string[];
  /** JWS algorithm of the client's access tokens. */
  readonly tokenAlgorithm: string;
  readonly createdAt: string;
}

/** A signing key (`sig`) or the cookie-signing secret (`cookie`) of a tenant's issuer. */
export interface IssuerKeyRow {
  readonly tenantId: string;
  readonly kid: string;
  readonly use: 'sig' | 'cookie';
  readonly alg: string;
  /** The public JWK as JSON (`{}` for the cookie secret). */
  readonly publicJwk: string;
  /** The private JWK (or secret) sealed by the KMS, bound to tenant and kid. */
  readonly sealedPrivate: Uint8Array;
  readonly createdAt: string;
  /** Set when rotated out: the key stops signing but still verifies until tokens expire. */
  readonly retiredAt: string | null;
}

/** One `oidc-provider` model instance (AuthorizationCode, RefreshToken, Grant, Session…). */
export interface OidcArtifact {
  readonly model: string;
  readonly id: string;
  readonly payload: Record<string, unknown>;
  readonly grantId: string | null;
  readonly userCode: string | null;
  readonly uid: string | null;
  readonly clientId: string | null;
  /** Epoch milliseconds after which the artifact is gone; null: never. */
  readonly expiresAt: number | null;
}

/** What a revocation names: one token (`jti`), a whole grant, or every token of a client. */
export type RevocationKind = 'jti' | 'grant' | 'client';

export interface RevocationRow {
  readonly kind: RevocationKind;
  readonly value: string;
  /** Epoch milliseconds after which the gateway accepts no token it covers anyway (see acceptedUntil). */
  readonly expiresAt: number;
}

/** The control plane's part of the tenant issuers. */
export interface ControlPlaneIdentityStore {
  /** The tenant whose issuer path is `/t/<slug>`, whatever its status. */
  tenantBySlug(slug: string): Promise<Tenant | undefined>;
  insertClient(row: OAuthClientRow): Promise<void>;
  getClient(tenantId: string, id: string): Promise<OAuthClientRow | undefined>;
  /** Clients in id order after the exclusive `after`. */
  listClients(
    tenantId: string,
    after: string | undefined,
    limit: number,
  ): Promise<OAuthClientRow[]>;
  /**
   * Removes the client and every artifact issued to it, and records a revocation of its
   * tokens, in one transaction; false when the tenant has no such client.
   */
  deleteClient(tenantId: string, id: string, revocation: RevocationRow): Promise<boolean>;

  /**
   * Retires the keys `retire` names (as of `retire.at`) and adds `rows`, in one transaction;
   * false, changing nothing, when the tenant already has a current (unretired) key of the
   * use and algorithm of one of `rows`: another process made its keys first.
   */
  insertKeys(
    tenantId: string,
    rows: readonly IssuerKeyRow[],
    retire?: { readonly kids: readonly string[]; readonly at: string },
  ): Promise<boolean>;
  /** The tenant's keys, oldest first. */
  listKeys(tenantId: string): Promise<IssuerKeyRow[]>;
  /** Every tenant's keys, for a master key rotation. */
  listAllKeys(): Promise<IssuerKeyRow[]>;
  replaceSealedKey(tenantId: string, kid: string, sealedPrivate: Uint8Array): Promise<void>;
  /**
   * Retires the current cookie secret of the tenant, or of every tenant when `tenantId` is
   * undefined, as of `at`; how many it retired.
   */
  retireCookieSecrets(at: string, tenantId?: string): Promise<number>;
  /**
   * Deletes every cookie secret, current or retired, of the tenant, or of every tenant when
   * `tenantId` is undefined; how many it deleted. A tenant whose issuer has signing keys but
   * no cookie secret at all had them revoked (IssuerKeys records that when it makes the next).
   */
  revokeCookieSecrets(tenantId?: string): Promise<number>;
  /**
   * The kid of the tenant's current cookie secret, or undefined when it has none (retired and
   * not yet made again): one indexed read, made on every issuer request that uses cookies.
   */
  currentCookieSecret(tenantId: string): Promise<string | undefined>;

  upsertArtifact(tenantId: string, artifact: OidcArtifact): Promise<void>;
  /** The live (unexpired) artifact; `by` looks it up by id, uid or user code. */
  findArtifact(
    tenantId: string,
    model: string,
    by: 'id' | 'uid' | 'userCode',
    value: string,
  ): Promise<OidcArtifact | undefined>;
  /**
   * Marks it consumed (`payload.consumed` = epoch seconds); false, changing nothing, when it
   * already was (or is gone): of concurrent uses, exactly one consumes it.
   */
  consumeArtifact(tenantId: string, model: string, id: string, at: number): Promise<boolean>;
  destroyArtifact(tenantId: string, model: string, id: string): Promise<void>;
  /** Deletes every artifact of the grant and records the grant's revocation, atomically. */
  revokeGrant(tenantId: string, grantId: string, revocation: RevocationRow): Promise<void>;

  addRevocation(tenantId: string, revocation: RevocationRow): Promise<void>;
  /** Revocations that have not expired at `now` (epoch ms). */
  listRevocations(tenantId: string, now: number): Promise<RevocationRow[]>;
  /** Crypto-shredding at tenant deletion: removes the tenant's clients, keys, artifacts, revocations. */
  deleteIssuer(tenantId: string): Promise<void>;
  /** Drops expired artifacts and revocations of the tenant. */
  purgeExpired(tenantId: string, now: number): Promise<void>;
}
