import { PalisadeError } from '../errors/index.ts';

/** Most DPoP proofs remembered at once by default (see ProofReplayMemory). */
export const DPOP_PROOFS_REMEMBERED_MAX = 100_000;

/**
 * The DPoP proofs accepted while they can still be presented, so none is accepted twice.
 * A proof is remembered until its acceptance window ends and never forgotten earlier: with
 * `max` proofs inside their windows, a new one is refused (PALISADE_DPOP_PROOF_MEMORY_FULL,
 * counted by `refused`) rather than one forgotten that its holder could then replay. Proofs
 * are filed by the second their window ends, so the ones past it go in a pass over seconds.
 */
export class ProofReplayMemory {
  readonly #max: number;
  readonly #refused: () => void;
  readonly #ids = new Set<string>();
  /** The ids by the second (epoch s) their windows end in or before: gone once it has passed. */
  readonly #bySecond = new Map<number, string[]>();

  constructor(options: { readonly max: number; readonly refused: () => void }) {
    this.#max = options.max;
    this.#refused = options.refused;
  }

  /**
   * Remembers proof `id`, acceptable until `until` (epoch ms), at `now`; throws
   * PALISADE_DPOP_PROOF_INVALID if it was accepted before, PALISADE_DPOP_PROOF_MEMORY_FULL if
   * `max` proofs are still within their windows.
   */
  remember(id: string, until: number, now: number): void {
    this.#forgetEnded(now);
    if (this.#ids.has(id))
      throw new PalisadeError(
        'PALISADE_DPOP_PROOF_INVALID',
        'the DPoP proof was used before; make a new one',
      );
    if (this.#ids.size >= this.#max) {
      this.#refused();
      throw new PalisadeError(
        'PALISADE_DPOP_PROOF_MEMORY_FULL',
        `${this.#max} DPoP proofs are within their acceptance window, the most this server remembers; send a new proof in a few seconds`,
      );
    }
    this.#ids.add(id);
    const second = Math.ceil(until / 1000);
    const ids = this.#bySecond.get(second);
    if (ids === undefined) this.#bySecond.set(second, [id]);
    else ids.push(id);
  }

  /** Forgets the proofs whose windows ended before `now`. */
  #forgetEnded(now: number): void {
    for (const [second, ids] of this.#bySecond) {
      if (second * 1000 >= now) continue;
      for (const id of ids) this.#ids.delete(id);
      this.#bySecond.delete(second);
    }
  }
}
