/**
 * C2SP signed-note: parsing, signing and opening notes. Opening follows the spec and
 * golang.org/x/mod/sumdb/note: unknown keys are ignored, a failing signature from a known key
 * (on any of its lines) rejects the note, and a note with no verified signature is rejected.
 */
import { fromBase64, toBase64 } from '../encoding/base64.ts';
import { concatBytes, readUint32, uint32, utf8 } from '../encoding/bytes.ts';
import { LedgerError } from '../errors.ts';
import type { NoteSignature, NoteSigner, NoteVerifier } from './types.ts';

/** Most signature lines accepted in one note (the spec requires at least 16; Go caps at 100). */
export const MAX_NOTE_SIGNATURES = 100;

const SIG_PREFIX = '\u2014 ';
const SPACE_OR_PLUS = /[\s\u0085+]/u;

/** A note split into its text and signature lines (nothing verified yet). */
export interface ParsedNote {
  /** The signed text, including its final newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

/** A successfully opened note. */
export interface OpenedNote extends ParsedNote {
  /** Signatures verified by a known key (at least one). */
  readonly verified: readonly NoteSignature[];
  /** Signatures from keys the caller does not know (ignored). */
  readonly unverified: readonly NoteSignature[];
}

/** True for a non-empty key name without Unicode spaces or `+`. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && name.isWellFormed() && !SPACE_OR_PLUS.test(name);
}

function malformed(reason: string): LedgerError {
  return new LedgerError('LEDGER_BAD_NOTE', `malformed note: ${reason}`);
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return true;
  }
  return false;
}

function checkText(text: string, what: string): void {
  if (!text.isWellFormed()) throw malformed(`${what} is not valid UTF-8`);
  if (hasControlCharacter(text)) throw malformed(`${what} contains a control character`);
}

/** Splits a note into text and signatures, rejecting malformed input with `LEDGER_BAD_NOTE`. */
export function parseNote(note: string): ParsedNote {
  checkText(note, 'note');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n'))
    throw malformed('signature block is empty or unterminated');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES)
    throw malformed(`more than ${MAX_NOTE_SIGNATURES} signatures`);
  const signatures = lines.map((line, i) => {
    if (!line.startsWith(SIG_PREFIX))
      throw malformed(`line ${i + 1} of the signature block is not a signature`);
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = rest.slice(0, space);
    const bytes = space < 0 ? undefined : fromBase64(rest.slice(space + 1));
    if (!isValidKeyName(name) || bytes === undefined || bytes.length < 5) {
      throw malformed(`signature line ${i + 1} is invalid`);
    }
    return { name, keyId: readUint32(bytes), signature: bytes.subarray(4) };
  });
  return { text, signatures };
}

/**
 * Opens a signed note: verifies every signature from a known key and returns the text.
 * Throws `LEDGER_BAD_NOTE` (malformed), `LEDGER_BAD_SIGNATURE` (a known key's signature
 * fails) or `LEDGER_UNKNOWN_KEY` (no signature from a known key).
 */
export async function openNote(
  note: string,
  verifiers: readonly NoteVerifier[],
): Promise<OpenedNote> {
  const parsed = parseNote(note);
  const textBytes = utf8(parsed.text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const sig of parsed.signatures) {
    const id = `${sig.name}+${sig.keyId}`;
    const verifier = verifiers.find((v) => v.name === sig.name && v.keyId === sig.keyId);
    // Every line of a known key is checked, repeats too: a note never carries a bad one.
    if (verifier !== undefined && (await verifier.verify(textBytes, sig.signature)) !== true) {
      throw new LedgerError(
        'LEDGER_BAD_SIGNATURE',
        `invalid signature for key ${sig.name}+${hex8(sig.keyId)}`,
      );
    }
    if (seen.has(id)) continue;
    seen.add(id);
    (verifier === undefined ? unverified : verified).push(sig);
  }
  if (verified.length === 0)
    throw new LedgerError('LEDGER_UNKNOWN_KEY', 'no signature from a known key');
  return { ...parsed, verified, unverified };
}

function hex8(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}

/** Formats one signature line (with its final newline). */
export function formatSignatureLine(name: string, keyId: number, signature: Uint8Array): string {
  return `${SIG_PREFIX}${name} ${toBase64(concatBytes(uint32(keyId), signature))}\n`;
}

/** Options for {@link signNote}. */
export interface SignNoteOptions {
  /** POSIX seconds for cosignature types; defaults to the current time. */
  readonly timestamp?: number;
}

/** Signature lines from each signer over `text` (for witness responses or appending). */
export async function signatureLines(
  text: string,
  signers: readonly NoteSigner[],
  options: SignNoteOptions = {},
): Promise<string> {
  if (!text.endsWith('\n')) throw malformed('note text must end with a newline');
  checkText(text, 'text');
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const bytes = utf8(text);
  let lines = '';
  for (const signer of signers) {
    if (!isValidKeyName(signer.name))
      throw new LedgerError('LEDGER_BAD_KEY', `invalid key name ${signer.name}`);
    lines += formatSignatureLine(
      signer.name,
      signer.keyId,
      await signer.sign(bytes, { timestamp }),
    );
  }
  return lines;
}

/** Signs `text` (ending in a newline) with every signer and returns the signed note. */
export async function signNote(
  text: string,
  signers: readonly NoteSigner[],
  options: SignNoteOptions = {},
): Promise<string> {
  if (signers.length === 0)
    throw new LedgerError('LEDGER_INVALID_ARGUMENT', 'signNote needs at least one signer');
  return `${text}\n${await signatureLines(text, signers, options)}`;
}
