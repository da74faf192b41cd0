/**
 * Each tenant issuer's keys: one signing key per JWS algorithm it offers (EdDSA first, the
 * default; ES256; ML-DSA-44 and ML-DSA-65 for clients that ask for post-quantum tokens) and a
 * secret that signs its cookies. They are made on first use; the private parts are stored
 * only sealed by the platform KMS, bound to the tenant and the key id. Rotation retires the
 * signing keys (they keep verifying as long as a token they signed is accepted) and makes new
 * ones. A retired cookie
 * secret (see control-plane migration 7 and rotateCookieSecrets) verifies cookies for
 * `cookieGraceMs`, then nothing, and a revoked one (revokeCookieSecrets) nothing at all; a
 * tenant with none current gets a new one.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import type { Kms } from '@palisade/crypto';
import type { ControlPlaneIdentityStore, IssuerKeyRow } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import type { TenantAudit } from './tenant-audit.ts';
import { acceptedUntil } from './token-skew.ts';

/** JWS algorithms of access and ID tokens, in order of preference. */
export const SIGNING_ALGORITHMS = ['EdDSA', 'ES256', 'ML-DSA-44', 'ML-DSA-65'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

const GENERATORS: Record<SigningAlgorithm, () => { publicKey: KeyObject; privateKey: KeyObject }> =
  {
    EdDSA: () => generateKeyPairSync('ed25519'),
    ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    'ML-DSA-44': () => generateKeyPairSync('ml-dsa-44' as 'ed25519'),
    'ML-DSA-65': () => generateKeyPairSync('ml-dsa-65' as 'ed25519'),
  };

const SEAL_PURPOSE = 'palisade/oidc-issuer-key';

export type Jwk = Record<string, unknown> & { kid: string; alg: string };

/** What a tenant issuer signs and verifies with. */
export interface IssuerKeySet {
  /**
   * Private JWKs: the active signing keys (one per algorithm, EdDSA first), then the retired
   * ones still within their grace, which the issuer only publishes, so the first key of an
   * algorithm is the one it signs with.
   */
  readonly signing: readonly Jwk[];
  /** Cookie-signing secrets: the current one, then the retired ones still within their grace. */
  readonly cookieKeys: readonly string[];
  /** The kid of the current cookie secret (see `currentCookie`). */
  readonly cookieKid: string;
  /** Epoch milliseconds when a retired key of the set ends its grace (load again by then), or null. */
  readonly refreshAt: number | null;
  /** The ids of the keys in use: another process's rotation changes it (see `generation`). */
  readonly generation: string;
}

/** The ids of the keys in use (not retired), in a stable order. */
function generationOf(rows: readonly IssuerKeyRow[]): string {
  return rows
    .filter((row) => row.retiredAt === null)
    .map((row) => row.kid)
    .sort()
    .join(' ');
}

function sealContext(tenantId: string, kid: string) {
  return { purpose: SEAL_PURPOSE, tenantId, keyVersion: 1, binding: Buffer.from(kid) };
}

export class IssuerKeys {
  readonly #store: ControlPlaneIdentityStore;
  readonly #kms: Kms;
  readonly #audit: TenantAudit;
  readonly #retiredGraceMs: number;
  readonly #cookieGraceMs: number;
  readonly #clock: () => number;

  constructor(options: {
    store: ControlPlaneIdentityStore;
    kms: Kms;
    audit: TenantAudit;
    /**
     * The longest a token a retired key signed can live: the key still verifies for that long
     * after its retirement, and the clock skew tolerated past a token's `exp` (acceptedUntil).
     */
    retiredGraceMs: number;
    /** How long a retired cookie secret still verifies: the longest a cookie it signed lives. */
    cookieGraceMs: number;
    /** Epoch milliseconds now (tests move it). */
    clock?: (() => number) | undefined;
  }) {
    this.#store = options.store;
    this.#kms = options.kms;
    this.#audit = options.audit;
    this.#retiredGraceMs = options.retiredGraceMs;
    this.#cookieGraceMs = options.cookieGraceMs;
    this.#clock = options.clock ?? Date.now;
  }

  /**
   * The tenant's keys, made (and recorded in its ledger) the first time. Of processes making
   * them at once, one stores its keys and the others read those back.
   */
  async load(tenant: Tenant): Promise<IssuerKeySet> {
    for (;;) {
      const rows = await this.#store.listKeys(tenant.id);
      const missing = SIGNING_ALGORITHMS.filter(
        (alg) =>
          !rows.some((row) => row.use === 'sig' && row.alg === alg && row.retiredAt === null),
      );
      const cookieMissing = !rows.some((row) => row.use === 'cookie' && row.retiredAt === null);
      if (missing.length === 0 && !cookieMissing) return this.#keySet(tenant, rows);
      // Only the cookie secret missing: an operator retired it (rotateCookieSecrets), or
      // revoked every one of them (revokeCookieSecrets).
      const action =
        missing.length > 0
          ? 'oidc-keys.create'
          : rows.some((row) => row.use === 'cookie')
            ? 'oidc-keys.cookie-secret-rotate'
            : 'oidc-keys.cookie-secret-revoke';
      await this.#create(tenant, missing, cookieMissing, action);
    }
  }

  /** The stored keys' generation: unlike a loaded set's, another process rotated them. */
  async generation(tenantId: string): Promise<string> {
    return generationOf(await this.#store.listKeys(tenantId));
  }

  /** The kid of the tenant's stored current cookie secret, if any: a cheap read, unlike `generation`. */
  currentCookie(tenantId: string): Promise<string | undefined> {
    return this.#store.currentCookieSecret(tenantId);
  }

  /** Public JWKs the tenant's tokens may be signed with (reads only; makes nothing). */
  async published(tenantId: string): Promise<Jwk[]> {
    const now = this.#clock();
    return (await this.#store.listKeys(tenantId))
      .filter(
        (row) =>
          row.use === 'sig' &&
          (row.retiredAt === null || this.#graceEnds(row, row.retiredAt) > now),
      )
      .map((row) => JSON.parse(row.publicJwk) as Jwk);
  }

  /**
   * When a key retired at `retiredAt` stops verifying: a cookie secret once the longest cookie
   * it signed expired; a signing key once the last token it signed is no longer accepted.
   */
  #graceEnds(row: IssuerKeyRow, retiredAt: string): number {
    const retired = Date.parse(retiredAt);
    return row.use === 'cookie'
      ? retired + this.#cookieGraceMs
      : acceptedUntil(retired + this.#retiredGraceMs);
  }

  /**
   * Retires every active signing key of the tenant and makes new ones, at once. A rotation
   * that meets newer keys than it read (another rotation, or the first keys, made meanwhile)
   * yields to them and changes nothing.
   */
  async rotate(tenant: Tenant, actor: string): Promise<void> {
    const rows = await this.#store.listKeys(tenant.id);
    const active = rows.filter((row) => row.use === 'sig' && row.retiredAt === null);
    await this.#create(tenant, SIGNING_ALGORITHMS, false, 'oidc-keys.rotate', actor, {
      kids: active.map((row) => row.kid),
      at: new Date().toISOString(),
    });
  }

  /** Makes and stores keys, unless another process stored current keys of its own first. */
  async #create(
    tenant: Tenant,
    algorithms: readonly SigningAlgorithm[],
    cookie: boolean,
    action: string,
    actor = 'platform',
    retire?: { kids: readonly string[]; at: string },
  ): Promise<void> {
    const createdAt = new Date().toISOString();
    const rows: IssuerKeyRow[] = [];
    for (const alg of algorithms) {
      const { publicKey, privateKey } = GENERATORS[alg]();
      const publicJwk = publicKey.export({ format: 'jwk' });
      const kid = createHash('sha256').update(JSON.stringify(publicJwk)).digest('base64url');
      const privateJwk = Buffer.from(JSON.stringify(privateKey.export({ format: 'jwk' })));
      rows.push({
        tenantId: tenant.id,
        kid,
        use: 'sig',
        alg,
        publicJwk: JSON.stringify({ ...publicJwk, kid, alg, use: 'sig' }),
        sealedPrivate: await this.#kms.seal(sealContext(tenant.id, kid), privateJwk),
        createdAt,
        retiredAt: null,
      });
      privateJwk.fill(0);
    }
    if (cookie) {
      const kid = `cookie-${randomBytes(8).toString('hex')}`;
      const secret = randomBytes(32);
      rows.push({
        tenantId: tenant.id,
        kid,
        use: 'cookie',
        alg: 'HS256',
        publicJwk: '{}',
        sealedPrivate: await this.#kms.seal(sealContext(tenant.id, kid), secret),
        createdAt,
        retiredAt: null,
      });
      secret.fill(0);
    }
    const published = rows.filter((row) => row.use === 'sig').map((row) => row.kid);
    await this.#audit.changeIf(
      tenant,
      { actor, action, resource: 'oidc/keys', state: { published } },
      () => this.#store.insertKeys(tenant.id, rows, retire),
    );
  }

  async #keySet(tenant: Tenant, rows: readonly IssuerKeyRow[]): Promise<IssuerKeySet> {
    const now = this.#clock();
    const active: Jwk[] = [];
    const retired: Jwk[] = [];
    const currentCookie: string[] = [];
    let cookieKid = '';
    const retiredCookies: string[] = [];
    let refreshAt: number | null = null;
    for (const row of rows) {
      const opened = async () =>
        Buffer.from(await this.#kms.open(sealContext(tenant.id, row.kid), row.sealedPrivate));
      const graceEnds = row.retiredAt === null ? null : this.#graceEnds(row, row.retiredAt);
      if (graceEnds !== null && graceEnds <= now) continue;
      if (graceEnds !== null) refreshAt = Math.min(refreshAt ?? graceEnds, graceEnds);
      if (row.use === 'cookie') {
        // Rows come oldest first: the retired secrets go newest first.
        const secret = (await opened()).toString('base64url');
        (row.retiredAt === null ? currentCookie : retiredCookies).unshift(secret);
        if (row.retiredAt === null) cookieKid = row.kid;
        continue;
      }
      const secret = await opened();
      const jwk = { ...JSON.parse(secret.toString()), kid: row.kid, alg: row.alg, use: 'sig' };
      secret.fill(0);
      (row.retiredAt === null ? active : retired).push(jwk);
    }
    const rank = (jwk: Jwk) => SIGNING_ALGORITHMS.indexOf(jwk.alg as SigningAlgorithm);
    active.sort((a, b) => rank(a) - rank(b));
    return {
      signing: [...active, ...retired],
      cookieKeys: [...currentCookie, ...retiredCookies],
      cookieKid,
      refreshAt,
      generation: generationOf(rows),
    };
  }
}

/**
 * Re-seals every tenant issuer's private keys from one master key to another (master key
 * rotation, offline). Idempotent: keys already sealed under `to` are skipped.
 */
export async function resealIssuerKeys(
  store: ControlPlaneIdentityStore,
  from: Kms,
  to: Kms,
): Promise<number> {
  let resealed = 0;
  for (const row of await store.listAllKeys()) {
    if (to.isCurrent(row.sealedPrivate)) continue;
    const context = sealContext(row.tenantId, row.kid);
    const secret = await from.open(context, row.sealedPrivate);
    await store.replaceSealedKey(row.tenantId, row.kid, await to.seal(context, secret));
    secret.fill(0);
    resealed++;
  }
  return resealed;
}
