/**
 * DPoP (RFC 9449) at the gateway: an access token bound to a key (`cnf.jkt`) is accepted
 * only as `Authorization: DPoP <token>` with a `DPoP` proof that its key signed for this very
 * request (method, URL without query, the token's hash), recently, and never before by any
 * process of the platform (§11.1): this process's memory answers a replay to it, the store
 * shared by every process one made to another.
 */
import { hash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';
import { PalisadeError } from '../errors/index.ts';
import type { DpopProofStore } from '../store/index.ts';
import {
  DPOP_PROOFS_PER_TENANT_MAX,
  DPOP_PROOFS_REMEMBERED_MAX,
  ProofReplayMemory,
  usedBefore,
} from './dpop-replay.ts';

/** Algorithms a client may sign its proofs with (`Ed25519` is the fully-specified EdDSA). */
export const DPOP_PROOF_ALGORITHMS = ['EdDSA', 'Ed25519', 'ES256'] as const;
/** Seconds a proof stays acceptable after its `iat`. */
const PROOF_MAX_AGE_S = 60;
const CLOCK_TOLERANCE_S = 5;

/** The request a proof must be for. */
export interface ProofTarget {
  readonly method: string;
  /** Absolute URL of the request, without query or fragment. */
  readonly url: string;
}

function invalid(message: string): PalisadeError {
  return new PalisadeError('PALISADE_DPOP_PROOF_INVALID', message);
}

/** Checks proofs, and remembers their ids until they are too old to be accepted anyway. */
export class DpopProofs {
  readonly #seen: ProofReplayMemory;
  readonly #store: DpopProofStore;
  readonly #clock: () => number;

  constructor(options: {
    /** The proofs every process of the platform accepted. */
    readonly store: DpopProofStore;
    /** Most proofs this process remembers at once (see ProofReplayMemory). */
    readonly max?: number | undefined;
    /** Most of them of one tenant. */
    readonly tenantMax?: number | undefined;
    /** Told of each proof refused because that many are remembered. */
    readonly refused?: (() => void) | undefined;
    /** Epoch milliseconds now (tests move it). */
    readonly clock?: (() => number) | undefined;
  }) {
    this.#seen = new ProofReplayMemory({
      max: options.max ?? DPOP_PROOFS_REMEMBERED_MAX,
      tenantMax: options.tenantMax ?? DPOP_PROOFS_PER_TENANT_MAX,
      refused: options.refused ?? (() => undefined),
    });
    this.#store = options.store;
    this.#clock = options.clock ?? Date.now;
  }

  /** Proofs this process remembers now. */
  get remembered(): number {
    return this.#seen.size;
  }

  /** Forgets a deleted tenant's proofs here (see ProofReplayMemory.forgetTenant). */
  forgetTenant(tenantId: string): void {
    this.#seen.forgetTenant(tenantId);
  }

  /** Deletes a deleted tenant's proofs from the store every process shares. */
  eraseTenant(tenantId: string): Promise<void> {
    return this.#store.eraseTenant(tenantId);
  }

  async verify(
    tenantId: string,
    proof: string | undefined,
    token: string,
    jkt: string,
    target: ProofTarget,
  ): Promise<void> {
    if (proof === undefined)
      throw invalid('this access token is bound to a key: send a DPoP proof header with it');
    let payload: Record<string, unknown>;
    let jwk: Record<string, unknown>;
    const now = this.#clock();
    try {
      const verified = await jwtVerify(proof, EmbeddedJWK, {
        currentDate: new Date(now),
        typ: 'dpop+jwt',
        algorithms: [...DPOP_PROOF_ALGORITHMS],
        maxTokenAge: PROOF_MAX_AGE_S,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['jti', 'htm', 'htu', 'iat', 'ath'],
      });
      payload = verified.payload;
      jwk = verified.protectedHeader.jwk as Record<string, unknown>;
    } catch (error) {
      throw invalid(`the DPoP proof does not verify (${(error as Error).message})`);
    }
    if ((await calculateJwkThumbprint(jwk, 'sha256')) !== jkt)
      throw invalid("the DPoP proof is not signed by the token's key");
    if (payload.htm !== target.method || !sameUrl(payload.htu, target.url))
      throw invalid(`the DPoP proof is not for ${target.method} ${target.url}`);
    if (payload.ath !== hash('sha256', token, 'base64url'))
      throw invalid('the DPoP proof is for another access token');
    const until = (Number(payload.iat) + PROOF_MAX_AGE_S + CLOCK_TOLERANCE_S) * 1000;
    // Remembered here first, so a replay racing it in this process is refused at once; kept
    // here even when the store refuses it, since it was used.
    const digest = this.#seen.remember(tenantId, jkt, String(payload.jti), until, now);
    if (!(await this.#store.remember(digest, tenantId, until, now))) throw usedBefore();
  }
}

/** RFC 9449 §4.3: the `htu` is compared without query and fragment. */
function sameUrl(htu: unknown, url: string): boolean {
  const parsed = typeof htu === 'string' ? URL.parse(htu) : null;
  return parsed !== null && `${parsed.origin}${parsed.pathname}` === url;
}
