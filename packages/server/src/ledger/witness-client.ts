import {
  consistencyProof,
  formatAddCheckpointRequest,
  formatSignatureLine,
  type HashReader,
  type MerkleHasher,
  type NoteVerifier,
  openNote,
  parseVerifierKey,
} from '@palisade/ledger';
import { nodeVerifyProvider } from '@palisade/ledger/node';
import type { Logger } from 'pino';

/** How long one witness may take to answer before the checkpoint goes on without it. */
const WITNESS_TIMEOUT_MS = 5000;

interface Witness {
  readonly url: string;
  readonly verifiers: NoteVerifier[];
  /** The size this witness last cosigned, as far as we know (it tells us on 409). */
  knownSize: number;
}

/** Parses `URL=VKEY` settings, merging the keys of one URL. */
function parseWitnesses(specs: readonly string[]): Witness[] {
  const byUrl = new Map<string, Witness>();
  for (const spec of specs) {
    const at = spec.indexOf('=');
    const url = spec.slice(0, at).replace(/\/+$/, '');
    const verifier = parseVerifierKey(spec.slice(at + 1), nodeVerifyProvider);
    const witness = byUrl.get(url) ?? { url, verifiers: [], knownSize: 0 };
    witness.verifiers.push(verifier);
    byUrl.set(url, witness);
  }
  return [...byUrl.values()];
}

/**
 * Pushes platform checkpoints to independent witnesses (C2SP tlog-witness add-checkpoint)
 * and collects their cosignatures. A witness that is behind says so with 409 and its size;
 * it then gets a consistency proof from that size. A witness that refuses (a fork, a bad
 * proof) is logged loudly: that is the alarm witnesses exist to raise.
 */
export class WitnessPool {
  readonly #witnesses: Witness[];
  readonly #hasher: MerkleHasher;
  readonly #log: HashReader;
  readonly #logger: Logger;

  constructor(specs: readonly string[], hasher: MerkleHasher, log: HashReader, logger: Logger) {
    this.#witnesses = parseWitnesses(specs);
    this.#hasher = hasher;
    this.#log = log;
    this.#logger = logger;
  }

  get size(): number {
    return this.#witnesses.length;
  }

  /** Every witness's cosignature lines for `note` (a checkpoint of `size`), in parallel. */
  async cosign(note: string, size: number): Promise<string[]> {
    const results = await Promise.all(this.#witnesses.map((w) => this.#cosignWith(w, note, size)));
    return results.filter((lines): lines is string => lines !== undefined);
  }

  async #cosignWith(witness: Witness, note: string, size: number): Promise<string | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const oldSize = Math.min(witness.knownSize, size);
      const proof =
        oldSize === 0 ? [] : await consistencyProof(this.#hasher, this.#log, oldSize, size);
      let response: Response;
      try {
        response = await fetch(`${witness.url}/add-checkpoint`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: formatAddCheckpointRequest({ oldSize, proof, checkpoint: note }),
          signal: AbortSignal.timeout(WITNESS_TIMEOUT_MS),
        });
      } catch (error) {
        this.#logger.warn(
          { witness: witness.url, err: error },
          'witness unreachable; the checkpoint goes on without its cosignature',
        );
        return undefined;
      }
      const body = await response.text();
      if (response.ok) {
        witness.knownSize = size;
        const lines = body.endsWith('\n') ? body : `${body}\n`;
        try {
          // Only lines this witness's keys verify are kept: anything else it sent would count
          // as another witness's cosignature, or break the checkpoint for every verifier.
          const { verified } = await openNote(`${note}${lines}`, witness.verifiers);
          return verified
            .map((sig) => formatSignatureLine(sig.name, sig.keyId, sig.signature))
            .join('');
        } catch (error) {
          this.#logger.error(
            { witness: witness.url, err: error },
            'a witness answered with a cosignature that does not verify',
          );
          return undefined;
        }
      }
      if (
        response.status === 409 &&
        response.headers.get('content-type')?.startsWith('text/x.tlog.size') === true
      ) {
        const theirs = Number(body.trim());
        if (Number.isSafeInteger(theirs) && theirs !== witness.knownSize && theirs <= size) {
          witness.knownSize = theirs;
          continue;
        }
      }
      this.#logger.error(
        { witness: witness.url, status: response.status, body: body.slice(0, 200), size },
        'a witness REFUSED the platform checkpoint: it may have seen a different history',
      );
      return undefined;
    }
    return undefined;
  }
}
