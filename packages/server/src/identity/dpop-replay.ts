import { hash } from 'node:crypto';
import { PalisadeError } from '../errors/index.ts';

/** Most DPoP proofs one process remembers at once by default (see ProofReplayMemory). */
export const DPOP_PROOFS_REMEMBERED_MAX = 1_000_000;
/** Most of them one tenant's clients may hold by default: a tenant's flood is its own. */
export const DPOP_PROOFS_PER_TENANT_MAX = 100_000;

/** The refusal of a replay, whichever memory caught it. */
export function usedBefore(): PalisadeError {
  return new PalisadeError(
    'PALISADE_DPOP_PROOF_INVALID',
    'the DPoP proof was used before; make a new one',
  );
}

/**
 * The DPoP proofs accepted while they can still be presented, so none is accepted twice.
 * A proof is remembered until its acceptance window ends and never forgotten earlier: with
 * `tenantMax` of its tenant's proofs, or `max` in all, inside their windows, a new one is
 * refused (PALISADE_DPOP_PROOF_MEMORY_FULL, counted by `refused`) rather than one forgotten
 * that its holder could then replay. The share of each tenant is bounded so that one tenant's
 * clients, sending proofs as fast as they can sign them, cannot get every other tenant's
 * refused. Each proof is remembered by a 128-bit digest of its tenant, key and `jti` (a fixed
 * size, whatever the `jti`), filed by the second its window ends, so the ones past it go in a
 * pass over seconds.
 *
 * This is one process's memory, checked first: a replay to the same process is refused here
 * and never costs a store round trip. The platform-wide memory is the store's (DpopProofs).
 */
export class ProofReplayMemory {
  readonly #max: number;
  readonly #tenantMax: number;
  readonly #refused: () => void;
  readonly #ids = new Set<string>();
  readonly #perTenant = new Map<string, number>();
  /** The proofs by the second (epoch s) their windows end in or before: gone once it has passed. */
  readonly #bySecond = new Map<number, { tenantId: string; id: string }[]>();

  constructor(options: {
    readonly max: number;
    readonly tenantMax: number;
    readonly refused: () => void;
  }) {
    this.#max = options.max;
    this.#tenantMax = options.tenantMax;
    this.#refused = options.refused;
  }

  /**
   * Remembers the proof `jti` of key `jkt` in `tenantId`, acceptable until `until` (epoch ms),
   * at `now`, and answers its digest; throws PALISADE_DPOP_PROOF_INVALID if it was accepted
   * before, PALISADE_DPOP_PROOF_MEMORY_FULL if the tenant's share or the whole memory is full.
   */
  remember(tenantId: string, jkt: string, jti: string, until: number, now: number): Buffer {
    this.#forgetEnded(now);
    const digest = hash('sha256', `${tenantId}\n${jkt}\n${jti}`, 'buffer').subarray(0, 16);
    const id = digest.toString('base64url');
    if (this.#ids.has(id)) throw usedBefore();
    const held = this.#perTenant.get(tenantId) ?? 0;
    if (held >= this.#tenantMax || this.#ids.size >= this.#max) {
      this.#refused();
      const whose = held >= this.#tenantMax ? "this tenant's clients hold" : 'all tenants hold';
      throw new PalisadeError(
        'PALISADE_DPOP_PROOF_MEMORY_FULL',
        `${whose} as many DPoP proofs within their acceptance window as this server remembers; send a new proof in a few seconds`,
      );
    }
    this.#ids.add(id);
    this.#perTenant.set(tenantId, held + 1);
    const second = Math.ceil(until / 1000);
    const proofs = this.#bySecond.get(second);
    if (proofs === undefined) this.#bySecond.set(second, [{ tenantId, id }]);
    else proofs.push({ tenantId, id });
    return digest;
  }

  /** Proofs remembered now, of all tenants. */
  get size(): number {
    return this.#ids.size;
  }

  /**
   * Forgets a deleted tenant's proofs: its tokens no longer verify, so none can be replayed.
   * (A suspended tenant's are kept: its tokens verify again once it is resumed.)
   */
  forgetTenant(tenantId: string): void {
    if (!this.#perTenant.delete(tenantId)) return;
    for (const [second, proofs] of this.#bySecond) {
      const kept = proofs.filter((proof) => proof.tenantId !== tenantId);
      for (const proof of proofs) if (proof.tenantId === tenantId) this.#ids.delete(proof.id);
      if (kept.length === 0) this.#bySecond.delete(second);
      else if (kept.length !== proofs.length) this.#bySecond.set(second, kept);
    }
  }

  /** Forgets the proofs whose windows ended before `now`. */
  #forgetEnded(now: number): void {
    for (const [second, proofs] of this.#bySecond) {
      if (second * 1000 >= now) continue;
      for (const { tenantId, id } of proofs) {
        this.#ids.delete(id);
        const left = (this.#perTenant.get(tenantId) ?? 1) - 1;
        if (left === 0) this.#perTenant.delete(tenantId);
        else this.#perTenant.set(tenantId, left);
      }
      this.#bySecond.delete(second);
    }
  }
}
