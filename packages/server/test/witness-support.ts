/**
 * Test logs for the witness suites: a log key pair (Ed25519 0x01 + ML-DSA-44 0x06) and an
 * in-memory Merkle log built with the ledger package, which signs checkpoints and makes
 * add-checkpoint bodies. `rewrite` builds a different history under the same origin and
 * keys, as a compromised or rolled-back server would.
 */
import {
  appendLeaves,
  consistencyProof,
  formatAddCheckpointRequest,
  formatCheckpoint,
  MemoryHashStore,
  type NoteSigner,
  type NoteVerifier,
  openNote,
  parseVerifierKey,
  signNote,
  treeRoot,
  utf8,
} from '@palisade/ledger';
import {
  ed25519Signer,
  generateEd25519Key,
  generateMlDsa44Key,
  mldsa44Signer,
  nodeHasher,
  nodeVerifyProvider,
} from '@palisade/ledger/node';

/** A log's signing keys and the `--log ORIGIN=VKEY` specs a witness needs to trust them. */
export interface LogKeys {
  readonly origin: string;
  readonly signers: readonly NoteSigner[];
  /** `[Ed25519 0x01, ML-DSA-44 0x06]` vkeys. */
  readonly vkeys: readonly string[];
}

/** Fresh keys for `origin`, named after it (as Palisade's platform log does). */
export function makeLogKeys(origin: string): LogKeys {
  const ed25519 = generateEd25519Key(origin);
  const mldsa44 = generateMlDsa44Key(origin);
  return {
    origin,
    signers: [ed25519Signer(origin, ed25519.privateKey), mldsa44Signer(origin, mldsa44.privateKey)],
    vkeys: [ed25519.vkey, mldsa44.vkey],
  };
}

/** `ORIGIN=VKEY` for every key of `keys`. */
export function logSpecs(keys: LogKeys): string[] {
  return keys.vkeys.map((vkey) => `${keys.origin}=${vkey}`);
}

/** An append-only test log; `history` seeds the leaf contents so two logs can differ. */
export class TestLog {
  readonly keys: LogKeys;
  readonly history: string;
  readonly #store = new MemoryHashStore();
  #size = 0;

  constructor(keys: LogKeys, history = 'honest') {
    this.keys = keys;
    this.history = history;
  }

  get size(): number {
    return this.#size;
  }

  /** The same origin and keys with a different history (nothing appended yet). */
  rewrite(history: string): TestLog {
    return new TestLog(this.keys, history);
  }

  /** Appends `count` leaves. */
  async append(count: number): Promise<this> {
    const leaves = Array.from({ length: count }, (_, i) =>
      nodeHasher.leafHash(utf8(`${this.history} leaf ${this.#size + i}`)),
    );
    const result = await appendLeaves(nodeHasher, this.#store, this.#size, leaves);
    this.#store.writeNodes(result.nodes);
    this.#size = result.size;
    return this;
  }

  /** The checkpoint text (unsigned) at `size`. */
  async checkpointText(size = this.#size): Promise<string> {
    const root = await treeRoot(nodeHasher, this.#store, size);
    return formatCheckpoint({ origin: this.keys.origin, size, root, extensions: [] });
  }

  /** The signed checkpoint note at `size`, signed by `signers` (the log's by default). */
  async checkpoint(size = this.#size, signers = this.keys.signers): Promise<string> {
    return signNote(await this.checkpointText(size), signers);
  }

  /** A consistency proof from `from` to `to` in this log. */
  proof(from: number, to = this.#size): Promise<Uint8Array[]> {
    if (from === 0 || from === to) return Promise.resolve([]);
    return consistencyProof(nodeHasher, this.#store, from, to);
  }

  /** An add-checkpoint body: `old`, this log's proof from `old`, the checkpoint at `size`. */
  async request(oldSize: number, size = this.#size): Promise<string> {
    return formatAddCheckpointRequest({
      oldSize,
      proof: await this.proof(oldSize, size),
      checkpoint: await this.checkpoint(size),
    });
  }
}

/** A witness's answer. */
export interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** `POST {url}/add-checkpoint` with `body`. */
export async function addCheckpoint(url: string, body: string | Uint8Array): Promise<Answer> {
  const response = await fetch(`${url}/add-checkpoint`, { method: 'POST', body });
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    body: await response.text(),
  };
}

/** Verifiers for vkeys as printed by `palisade witness keygen`. */
export function verifiersOf(vkeys: readonly string[]): NoteVerifier[] {
  return vkeys.map((vkey) => parseVerifierKey(vkey, nodeVerifyProvider));
}

/**
 * Opens `checkpoint` with cosignature lines appended, trusting only `witnessVkeys`; returns
 * the names+key IDs of the verified cosignatures. Throws if any fails.
 */
export async function verifiedCosignatures(
  checkpoint: string,
  cosignatures: string,
  witnessVkeys: readonly string[],
): Promise<string[]> {
  const opened = await openNote(checkpoint + cosignatures, verifiersOf(witnessVkeys));
  return opened.verified.map((sig) => `${sig.name}+${sig.keyId.toString(16).padStart(8, '0')}`);
}
