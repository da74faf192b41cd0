/**
 * The platform checkpoint a tenant log is anchored in, opened with the keys an auditor
 * trusts: every trusted key named after its origin must have signed it (so a stripped
 * ML-DSA-44 line fails), and every other trusted key name is a witness, which counts only
 * when each of its trusted keys cosigned.
 */
import { type Checkpoint, parseCheckpoint } from '../checkpoint/checkpoint.ts';
import { LedgerError } from '../errors.ts';
import { type OpenedNote, openNote } from '../note/signed-note.ts';
import type { NoteVerifier } from '../note/types.ts';

/** A platform checkpoint signed by every trusted key of its origin. */
export interface OpenedPlatformCheckpoint {
  readonly note: OpenedNote;
  readonly checkpoint: Checkpoint;
  /** Witnesses (trusted key names other than the origin) each of whose trusted keys cosigned. */
  readonly witnesses: readonly string[];
  /** Trusted witnesses that did not cosign with every one of their trusted keys. */
  readonly silentWitnesses: readonly string[];
}

const tampered = (message: string) => new LedgerError('LEDGER_TAMPERED', message);

function signedBy(note: OpenedNote, key: NoteVerifier): boolean {
  return note.verified.some((sig) => sig.name === key.name && sig.keyId === key.keyId);
}

/**
 * Opens a platform checkpoint note with `trusted` keys. Throws a signature error as
 * `openNote` does, and `LEDGER_TAMPERED` when no trusted key is named after its origin or one
 * that is did not sign it.
 */
export async function openPlatformCheckpoint(
  note: string,
  trusted: readonly NoteVerifier[],
): Promise<OpenedPlatformCheckpoint> {
  const opened = await openNote(note, trusted);
  const checkpoint = parseCheckpoint(opened.text);
  const platformKeys = trusted.filter((key) => key.name === checkpoint.origin);
  if (platformKeys.length === 0)
    throw tampered(
      `the platform checkpoint is for ${checkpoint.origin}, which no trusted key is named after`,
    );
  for (const key of platformKeys) {
    if (!signedBy(opened, key))
      throw tampered(
        `the platform checkpoint lacks a valid signature from trusted key ${key.name} (type ${key.type}): a signature line was removed`,
      );
  }
  const witnesses: string[] = [];
  const silentWitnesses: string[] = [];
  const names = new Set(trusted.map((key) => key.name).filter((n) => n !== checkpoint.origin));
  for (const name of names) {
    const cosigned = trusted.filter((key) => key.name === name).every((k) => signedBy(opened, k));
    (cosigned ? witnesses : silentWitnesses).push(name);
  }
  return { note: opened, checkpoint, witnesses, silentWitnesses };
}

/**
 * Throws `LEDGER_NOT_WITNESSED` unless at least `quorum` witnesses cosigned `platform`,
 * naming those that did and those that did not.
 */
export function requireWitnesses(platform: OpenedPlatformCheckpoint, quorum: number): void {
  const { witnesses, silentWitnesses, checkpoint } = platform;
  if (witnesses.length >= quorum) return;
  const cosigned = witnesses.length === 0 ? '' : ` (${witnesses.join(', ')})`;
  const missing =
    silentWitnesses.length > 0
      ? `no valid cosignature from every trusted key of ${silentWitnesses.join(', ')}`
      : witnesses.length === 0
        ? 'no witness key is trusted'
        : 'no other witness key is trusted';
  throw new LedgerError(
    'LEDGER_NOT_WITNESSED',
    `the platform checkpoint at size ${checkpoint.size} is cosigned by ${witnesses.length} of the ${quorum} ${quorum === 1 ? 'witness' : 'witnesses'} required${cosigned}; ${missing}`,
  );
}
