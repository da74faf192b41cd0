/**
 * Following a replacement of the platform log's signing key with only the old key trusted.
 * The old key is lost, so nothing it signs can vouch for its successor: what an auditor can
 * check is that the change does not rewrite history. A change names the last checkpoint the
 * old key signed (`previousNote`) and the new vkeys; it is followed only when the trusted key
 * signed that checkpoint, everything is of the same origin, and a checkpoint of the new key
 * provably extends it (RFC 9162 consistency proof).
 */
import { type Checkpoint, parseCheckpoint } from '../checkpoint/checkpoint.ts';
import { equalBytes } from '../encoding/bytes.ts';
import { LedgerError } from '../errors.ts';
import type { MerkleHasher } from '../merkle/hasher.ts';
import { parseNote } from '../note/signed-note.ts';
import type { NoteVerifier } from '../note/types.ts';
import { parseVerifierKey, type VerifyProvider } from '../note/verifier.ts';
import { rootFromConsistencyProof } from '../proof/consistency.ts';
import { openPlatformCheckpoint } from './platform-checkpoint.ts';

/** A key change as the platform records it (`platform_key_changes`) and serves it. */
export interface KeyChange {
  /** The last platform checkpoint the old key signed, as a signed note. */
  readonly previousNote: string;
  /** The new key's verifier keys, named after the same origin. */
  readonly vkeys: readonly string[];
  /** When the platform says the change was made (ISO time; reported, not checked). */
  readonly at: string;
}

/** A key change and the consistency proof from its `previousNote` to the checkpoint after it. */
export interface KeyChangeStep {
  readonly change: KeyChange;
  /**
   * RFC 9162 consistency proof from the size of `previousNote` to the size of the next
   * change's `previousNote`, or for the last change to the checkpoint being verified.
   */
  readonly proof: readonly Uint8Array[];
}

/** A key change that was checked and followed. */
export interface AcceptedKeyChange {
  readonly origin: string;
  /** The old key's last checkpoint, which the new log extends. */
  readonly previous: Checkpoint;
  /** The checkpoint signed by the new key that was shown to extend it. */
  readonly checkpoint: Checkpoint;
  /** The origin's keys trusted before the change, as `name+keyid`. */
  readonly oldKeys: readonly string[];
  /** The new key's verifier keys. */
  readonly newVkeys: readonly string[];
  /** What to trust from now on: the new keys, and the trusted witnesses' keys unchanged. */
  readonly verifiers: readonly NoteVerifier[];
  readonly at: string;
}

const refused = (code: 'UNSIGNED' | 'ORIGIN' | 'FORK', message: string) =>
  new LedgerError(`LEDGER_KEY_CHANGE_${code}`, message);

function originOf(note: string, what: string): Checkpoint {
  try {
    return parseCheckpoint(parseNote(note).text);
  } catch (error) {
    if (error instanceof LedgerError)
      throw refused('UNSIGNED', `${what} is not a signed checkpoint (${error.message})`);
    throw error;
  }
}

async function signedBy(
  note: string,
  keys: readonly NoteVerifier[],
  origin: string,
  what: string,
): Promise<Checkpoint> {
  try {
    return (await openPlatformCheckpoint(note, keys)).checkpoint;
  } catch (error) {
    if (error instanceof LedgerError)
      throw refused(
        'UNSIGNED',
        `${what} is not signed by ${whose(keys.filter((k) => k.name === origin))} (${error.message})`,
      );
    throw error;
  }
}

function whose(keys: readonly NoteVerifier[]): string {
  return keys.map((k) => `${k.name}+${k.keyId.toString(16).padStart(8, '0')}`).join(', ');
}

/**
 * Checks one key change against the keys an auditor trusts (`trusted`: the old key, and any
 * witnesses' keys) and `checkpoint`, a platform checkpoint signed by the new key, with `proof`
 * from the change's previous checkpoint to it. Returns what to trust from then on. Throws
 * `LEDGER_KEY_CHANGE_ORIGIN` (the change, its keys or the checkpoint are of another log than
 * the one trusted), `LEDGER_KEY_CHANGE_UNSIGNED` (the previous checkpoint is not signed by
 * every trusted key of its origin, or the checkpoint by every new key), `LEDGER_KEY_CHANGE_FORK`
 * (the new log does not extend the previous checkpoint) or `LEDGER_BAD_KEY` (a malformed vkey).
 */
export async function verifyKeyChange(
  hasher: MerkleHasher,
  provider: VerifyProvider,
  trusted: readonly NoteVerifier[],
  change: KeyChange,
  checkpoint: string,
  proof: readonly Uint8Array[],
): Promise<AcceptedKeyChange> {
  const { origin } = originOf(change.previousNote, 'the key change');
  const oldKeys = trusted.filter((key) => key.name === origin);
  if (oldKeys.length === 0)
    throw refused(
      'ORIGIN',
      `the key change is for the log ${origin}, which none of the trusted keys (${whose(trusted)}) is named after`,
    );
  const previous = await signedBy(
    change.previousNote,
    trusted,
    origin,
    'the checkpoint the key change starts from',
  );
  const newKeys = change.vkeys.map((vkey) => parseVerifierKey(vkey, provider));
  if (newKeys.length === 0)
    throw new LedgerError('LEDGER_BAD_KEY', 'the key change names no new key');
  const foreign = newKeys.find((key) => key.name !== origin);
  if (foreign !== undefined)
    throw refused(
      'ORIGIN',
      `the key change's new key ${foreign.name} is not named after the log ${origin}`,
    );
  const next = originOf(checkpoint, 'the checkpoint after the key change');
  if (next.origin !== origin)
    throw refused(
      'ORIGIN',
      `the checkpoint after the key change is of the log ${next.origin}, not ${origin}`,
    );
  const witnesses = trusted.filter((key) => key.name !== origin);
  const after = await signedBy(
    checkpoint,
    [...newKeys, ...witnesses],
    origin,
    'the checkpoint after the key change',
  );
  checkExtends(hasher, previous, after, proof);
  return {
    origin,
    previous,
    checkpoint: after,
    oldKeys: oldKeys.map((key) => whose([key])),
    newVkeys: [...change.vkeys],
    verifiers: [...newKeys, ...witnesses],
    at: change.at,
  };
}

function checkExtends(
  hasher: MerkleHasher,
  previous: Checkpoint,
  after: Checkpoint,
  proof: readonly Uint8Array[],
): void {
  const fork = (why: string) =>
    refused(
      'FORK',
      `the log under the new key (size ${after.size}) does not extend the old key's last checkpoint (size ${previous.size}): ${why}`,
    );
  if (after.size < previous.size) throw fork('it is smaller');
  let root: Uint8Array;
  try {
    root = rootFromConsistencyProof(hasher, previous.size, after.size, proof, previous.root);
  } catch (error) {
    if (error instanceof LedgerError) throw fork(error.message);
    throw error;
  }
  if (!equalBytes(root, after.root)) throw fork('the consistency proof does not lead to its root');
}

async function signs(note: string, keys: readonly NoteVerifier[]): Promise<boolean> {
  try {
    await openPlatformCheckpoint(note, keys);
    return true;
  } catch (error) {
    if (error instanceof LedgerError) return false;
    throw error;
  }
}

/**
 * Follows the platform's key changes (oldest first) from the keys an auditor trusts to the
 * key that signed `checkpoint`, checking each with {@link verifyKeyChange}: from the last
 * change whose previous checkpoint the trusted keys signed, each change's new key must have
 * signed the next change's previous checkpoint (or `checkpoint`), which extends its own. A
 * change followed by one recorded at the same size never signed anything and is passed over.
 * Returns the changes followed, none when the trusted keys signed `checkpoint`; throws as
 * {@link verifyKeyChange} does, `LEDGER_KEY_CHANGE_UNSIGNED` when no change starts from the
 * trusted keys.
 */
export async function followKeyChanges(
  hasher: MerkleHasher,
  provider: VerifyProvider,
  trusted: readonly NoteVerifier[],
  steps: readonly KeyChangeStep[],
  checkpoint: string,
): Promise<AcceptedKeyChange[]> {
  if (await signs(checkpoint, trusted)) return [];
  let start = steps.length - 1;
  while (start >= 0 && !(await signs(steps[start]!.change.previousNote, trusted))) start -= 1;
  if (start < 0) {
    const last = steps.at(-1);
    // The precise reason the newest change does not start from the trusted keys.
    if (last !== undefined)
      await verifyKeyChange(hasher, provider, trusted, last.change, checkpoint, last.proof);
    throw refused(
      'UNSIGNED',
      `the checkpoint is not signed by the trusted keys (${whose(trusted)}), and no key change starts from them`,
    );
  }
  const sizes = steps.map((step) => originOf(step.change.previousNote, 'a key change').size);
  // A change recorded at the same size as the next one was replaced before its key signed.
  const path = steps.filter(
    (_, i) => i >= start && (i === steps.length - 1 || sizes[i] !== sizes[i + 1]),
  );
  const accepted: AcceptedKeyChange[] = [];
  let keys = trusted;
  for (const [i, step] of path.entries()) {
    const next = path[i + 1]?.change.previousNote ?? checkpoint;
    const change = await verifyKeyChange(hasher, provider, keys, step.change, next, step.proof);
    accepted.push(change);
    keys = change.verifiers;
  }
  return accepted;
}
