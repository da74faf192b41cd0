/**
 * Verifies a tenant issuer's JWT access token (RFC 9068) for the gateway. The issuer names
 * the tenant and must be exactly that tenant's issuer; the signature must verify with that
 * tenant's own keys under an allow-listed algorithm (never `none` or an HMAC); the audience
 * must be the tenant API; revoked tokens, grants and clients are refused. Every refusal has
 * its own error code. Issuers, keys and revocations are cached, and so is a token whose
 * signature verified (until it expires): a token used again costs three lookups, made without
 * a promise, while expiry, revocation and the tenant's status are checked every time. A key
 * id the cached issuer lacks has the issuer read again (rate-limited per tenant, see
 * IssuerDirectory.reload), so a rotation in another process is seen by the first token its
 * new keys signed.
 */
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { setNewest } from '../caches/index.ts';
import { type ErrorCode, PalisadeError } from '../errors/index.ts';
import { andThen, type MaybePromise } from '../maybe-promise/index.ts';
import type { Actor, Tenant } from '../tenancy/index.ts';
import type { DpopProofs } from './dpop-proof.ts';
import type { IssuerDirectory } from './issuer-directory.ts';
import { SIGNING_ALGORITHMS } from './issuer-keys.ts';
import type { IssuerUrls } from './issuer-urls.ts';
import type { RevocationList } from './revocation-list.ts';
import { acceptedUntil, CLOCK_TOLERANCE_S } from './token-skew.ts';

/** A verified access token: whose tenant, who acts, with which roles. */
export interface VerifiedAccessToken {
  readonly tenant: Tenant;
  readonly actor: Actor;
  readonly roles: readonly string[];
  /** The issuer's grant (a user's sign-in) the token belongs to; none for a service client. */
  readonly grantId: string | undefined;
  /** The verified claims. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** How the token came: its Authorization scheme, and the request a DPoP proof must be for. */
export interface TokenPresentation {
  readonly scheme: 'Bearer' | 'DPoP';
  readonly method: string;
  /** The request path (a query is ignored). */
  readonly path: string;
  /** The `DPoP` header, if any. */
  readonly proof: string | undefined;
}

/** A token whose signature and claims verified, as the cache keeps it. */
interface SignedToken {
  readonly slug: string;
  /** The tenant whose keys verified it: a later tenant given the same slug is not it. */
  readonly tenantId: string;
  /** The thumbprint of the key a DPoP-bound token is bound to. */
  readonly jkt: string | undefined;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly expiresAt: number;
  readonly jti: string;
  readonly clientId: string;
  readonly grantId: string | undefined;
  readonly roles: readonly string[];
  readonly actor: Actor;
}

/**
 * Upper bound of cached verified tokens, so memory stays bounded under any load; beyond it the
 * oldest is verified again.
 */
const VERIFIED_CACHE_MAX = 10_000;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const ALGORITHMS: readonly string[] = SIGNING_ALGORITHMS;

/** Whether a bearer value has the shape of a JWT (an API key never does). */
function looksLikeJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}

function refuse(code: ErrorCode, message: string): never {
  throw new PalisadeError(code, message);
}

export class AccessTokenVerifier {
  readonly #urls: IssuerUrls;
  readonly #issuers: IssuerDirectory;
  readonly #revocations: RevocationList;

  readonly #proofs: DpopProofs;

  constructor(
    urls: IssuerUrls,
    issuers: IssuerDirectory,
    revocations: RevocationList,
    proofs: DpopProofs,
  ) {
    this.#urls = urls;
    this.#issuers = issuers;
    this.#revocations = revocations;
    this.#proofs = proofs;
  }

  readonly #verified = new Map<string, SignedToken>();

  /** Forgets the verified tokens of one tenant (deleted, or its keys changed). */
  forgetTenant(tenantId: string): void {
    for (const [token, signed] of this.#verified)
      if (signed.tenantId === tenantId) this.#verified.delete(token);
  }

  /** Verified tokens cached now. */
  get cached(): number {
    return this.#verified.size;
  }

  /**
   * Whether a bearer value is for this verifier: a token it verified before, or anything
   * shaped like a JWT. The cache is asked first, so a token in use skips the shape scan.
   */
  recognizes(token: string): boolean {
    return this.#verified.has(token) || looksLikeJwt(token);
  }

  /**
   * Verifies a token as it was presented; without `presentation` (introspection, revocation)
   * a key-bound token is judged on its own. A token verified before, whose issuer and
   * revocations are cached, is answered at once rather than as a promise.
   *
   * Verified tokens are cached by their own text, not a digest of it: the lookup then costs a
   * string hash instead of a SHA-256 call (about 1 µs of a ~20 µs request), and holding a
   * token that expires within the hour adds nothing to what the process's memory already
   * holds (the issuers' signing keys).
   */
  verify(token: string, presentation?: TokenPresentation): MaybePromise<VerifiedAccessToken> {
    const signed = this.#verified.get(token);
    if (signed !== undefined) return this.#admit(token, signed, presentation);
    return this.#verifySignature(token).then((fresh) => {
      setNewest(this.#verified, token, fresh, VERIFIED_CACHE_MAX);
      return this.#admit(token, fresh, presentation);
    });
  }

  /** What is checked on every use of a token: expiry, its tenant, its key binding, revocation. */
  #admit(
    token: string,
    signed: SignedToken,
    presentation: TokenPresentation | undefined,
  ): MaybePromise<VerifiedAccessToken> {
    if (acceptedUntil(signed.expiresAt) <= Date.now()) {
      this.#verified.delete(token);
      refuse('PALISADE_TOKEN_EXPIRED', 'the token has expired; get a new one');
    }
    return andThen(this.#issuers.get(signed.slug), (issuer) => {
      const tenant = issuer?.tenant;
      if (tenant === undefined || tenant.status === 'deleted' || tenant.id !== signed.tenantId)
        throw this.#unknownIssuer();
      if (tenant.status === 'suspended') {
        refuse(
          'PALISADE_TENANT_SUSPENDED',
          `tenant ${tenant.slug} is suspended; ask the platform admin to resume it`,
        );
      }
      const bound =
        presentation === undefined
          ? undefined
          : this.#checkBinding(tenant.id, token, signed, presentation);
      return andThen(bound, () =>
        andThen(this.#revocations.revoked(tenant.id, signed), (revoked) => {
          if (revoked !== undefined) {
            refuse(
              'PALISADE_TOKEN_REVOKED',
              `the token's ${revoked === 'jti' ? 'token' : revoked} was revoked; get a new token`,
            );
          }
          const { actor, roles, grantId, claims } = signed;
          return { tenant, actor, roles, grantId, claims };
        }),
      );
    });
  }

  /** Throws unless the token is presented as its binding demands; a DPoP proof is checked async. */
  #checkBinding(
    tenantId: string,
    token: string,
    signed: SignedToken,
    presentation: TokenPresentation,
  ): MaybePromise<void> {
    if (signed.jkt === undefined) {
      if (presentation.scheme === 'DPoP')
        throw new PalisadeError(
          'PALISADE_DPOP_PROOF_INVALID',
          'this access token is not bound to a key: send it as Authorization: Bearer',
        );
      return;
    }
    if (presentation.scheme !== 'DPoP')
      throw new PalisadeError(
        'PALISADE_DPOP_PROOF_INVALID',
        'this access token is bound to a key: send it as Authorization: DPoP, with a DPoP proof',
      );
    const path = presentation.path.split('?')[0]!;
    return this.#proofs.verify(tenantId, presentation.proof, token, signed.jkt, {
      method: presentation.method,
      url: this.#urls.url(path),
    });
  }

  #unknownIssuer(): PalisadeError {
    return new PalisadeError(
      'PALISADE_TOKEN_ISSUER_UNKNOWN',
      `the token's issuer is no tenant of this platform; get a token from ${this.#urls.issuer('<slug>')}`,
    );
  }

  async #verifySignature(token: string): Promise<SignedToken> {
    let alg: unknown;
    let iss: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      iss = decodeJwt(token).iss;
    } catch {
      refuse('PALISADE_TOKEN_INVALID', 'the bearer token is not a well-formed JWT');
    }
    if (typeof alg !== 'string' || !ALGORITHMS.includes(alg)) {
      refuse(
        'PALISADE_TOKEN_ALGORITHM_REFUSED',
        `tokens signed with ${JSON.stringify(alg)} are refused; tenant issuers sign with ${ALGORITHMS.join(', ')}`,
      );
    }
    const slug = typeof iss === 'string' ? this.#urls.slugOf(iss) : undefined;
    const issuer = slug === undefined ? undefined : await this.#issuers.get(slug);
    if (slug === undefined || issuer === undefined || issuer.tenant.status === 'deleted')
      throw this.#unknownIssuer();
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(
        token,
        async ({ kid, alg }) => {
          if (kid === undefined) throw new errors.JWSSignatureVerificationFailed();
          // A key id not cached may be a key another process made: read the issuer again.
          const entry = issuer.keys.get(kid) ?? (await this.#issuers.reload(slug))?.keys.get(kid);
          if (entry === undefined || entry.alg !== alg)
            throw new errors.JWSSignatureVerificationFailed();
          return entry.key;
        },
        {
          algorithms: [alg as string],
          issuer: this.#urls.issuer(slug),
          audience: this.#urls.audience,
          typ: 'at+jwt',
          requiredClaims: ['exp', 'iat', 'jti', 'client_id', 'sub'],
          clockTolerance: CLOCK_TOLERANCE_S,
        },
      ));
    } catch (error) {
      throw refusal(error, slug);
    }
    const grantId = typeof payload.gid === 'string' ? payload.gid : undefined;
    const clientId = String(payload.client_id);
    const roles = Array.isArray(payload.roles)
      ? payload.roles.filter((role): role is string => typeof role === 'string')
      : [];
    const cnf = payload.cnf as { jkt?: unknown } | undefined;
    return {
      slug,
      tenantId: issuer.tenant.id,
      jkt: typeof cnf?.jkt === 'string' ? cnf.jkt : undefined,
      claims: payload,
      expiresAt: Number(payload.exp) * 1000,
      jti: String(payload.jti),
      clientId,
      grantId,
      roles,
      actor:
        grantId === undefined
          ? { kind: 'service-client', id: `service-client:${clientId}` }
          : { kind: 'user', id: `user:${String(payload.sub)}` },
    };
  }
}

function refusal(error: unknown, slug: string): PalisadeError {
  if (error instanceof errors.JWTExpired)
    return new PalisadeError('PALISADE_TOKEN_EXPIRED', 'the token has expired; get a new one');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' || error.claim === 'iat')
      return new PalisadeError(
        'PALISADE_TOKEN_NOT_YET_VALID',
        'the token is not valid yet (nbf or iat in the future); check the clocks',
      );
    if (error.claim === 'aud')
      return new PalisadeError(
        'PALISADE_TOKEN_AUDIENCE_MISMATCH',
        'the token is not for this API (aud); ask the issuer for an access token for the tenant API',
      );
    return new PalisadeError(
      'PALISADE_TOKEN_INVALID',
      `the token is not an access token of tenant ${slug} (${error.claim}: ${error.reason})`,
    );
  }
  if (error instanceof errors.JOSEAlgNotAllowed)
    return new PalisadeError('PALISADE_TOKEN_ALGORITHM_REFUSED', 'the token algorithm is refused');
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JOSEError)
    return new PalisadeError(
      'PALISADE_TOKEN_SIGNATURE_INVALID',
      `the token's signature does not verify with the keys of tenant ${slug}`,
    );
  return error as PalisadeError;
}
