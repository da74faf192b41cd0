/** Reading the keys an auditor trusts, and running the verifier with the CLI's reporting. */
import { readFileSync } from 'node:fs';
import {
  type AcceptedKeyChange,
  type BundleProgress,
  followKeyChanges,
  fromBase64,
  isLedgerError,
  type KeyChangeStep,
  type LedgerBundle,
  type LedgerErrorCode,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  verifyBundle,
} from '@palisade/ledger';
import { nodeHasher, nodeVerifyProvider } from '@palisade/ledger/node';
import { CliError, EXIT } from '../cli-error.ts';
import { fileError } from '../files.ts';

/** The vkeys of a keys file, one a line (`#` comments and blank lines skipped); exit 2 if unreadable. */
export function readVkeys(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(
      `cannot read the keys file ${path} (${fileError(error)}); get one with: palisade ledger keys --out ${path}`,
      EXIT.usage,
    );
  }
  const vkeys: string[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      parseVerifierKey(line, nodeVerifyProvider);
    } catch (error) {
      if (!isLedgerError(error)) throw error;
      throw new CliError(
        `${path} line ${index + 1} is not a vkey (${error.message}); get the platform's keys with: palisade ledger keys --out ${path}`,
        EXIT.usage,
      );
    }
    vkeys.push(line);
  }
  if (vkeys.length === 0)
    throw new CliError(
      `${path} holds no vkeys; get the platform's keys with: palisade ledger keys --out ${path}`,
      EXIT.usage,
    );
  return vkeys;
}

function progressPrinter(): BundleProgress {
  let last = '';
  return (phase, done, total) => {
    const line = `verifying ${phase}: ${done}/${total}`;
    if (process.stderr.isTTY && line !== last) process.stderr.write(`\r${line}   `);
    last = line;
  };
}

/** The `--witness-quorum` count; 0 (none required) when not given. */
export function witnessQuorum(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new CliError(
      `--witness-quorum ${JSON.stringify(value)} is not a count of witnesses, e.g. --witness-quorum 2`,
      EXIT.usage,
    );
  return Number(value);
}

/** A failed verification as the CLI reports it: exit 1, the ledger's code and what failed. */
export function verificationFailed(code: LedgerErrorCode, message: string): CliError {
  return new CliError(`ledger verification FAILED (${code}): ${message}`, EXIT.failed);
}

/** Verifies `bundle` against `vkeys`; a verification failure is a CliError (exit 1) with its code. */
export async function verify(bundle: LedgerBundle, vkeys: readonly string[], quorum: number) {
  try {
    const verifiers = vkeys.map((vkey) => parseVerifierKey(vkey, nodeVerifyProvider));
    return await verifyBundle(nodeHasher, bundle, verifiers, {
      progress: progressPrinter(),
      witnessQuorum: quorum,
    });
  } catch (error) {
    if (isLedgerError(error)) throw verificationFailed(error.code, error.message);
    throw error;
  } finally {
    if (process.stderr.isTTY) process.stderr.write('\r');
  }
}

/** The bundle's key changes as steps to follow; a malformed one fails verification. */
function keyChangeSteps(bundle: LedgerBundle): KeyChangeStep[] {
  const changes: unknown = bundle.keyChanges ?? [];
  if (!Array.isArray(changes))
    throw verificationFailed('LEDGER_BAD_BUNDLE', 'keyChanges must be an array');
  return changes.map((change, i) => {
    const proof = Array.isArray(change?.proof)
      ? change.proof.map((p: unknown) => (typeof p === 'string' ? fromBase64(p) : undefined))
      : undefined;
    if (
      typeof change?.previousNote !== 'string' ||
      !Array.isArray(change.vkeys) ||
      !change.vkeys.every((v: unknown) => typeof v === 'string') ||
      typeof change.at !== 'string' ||
      proof === undefined ||
      proof.includes(undefined)
    )
      throw verificationFailed(
        'LEDGER_BAD_BUNDLE',
        `keyChanges[${i}] must have previousNote, vkeys, at and a base64 proof`,
      );
    return { change, proof };
  });
}

/** What `verify` follows from the keys trusted: the changes, and the vkeys to trust after them. */
export interface FollowedKeys {
  readonly accepted: readonly AcceptedKeyChange[];
  readonly vkeys: readonly string[];
}

/**
 * Follows the key changes the bundle carries from `vkeys` to the key that signed its platform
 * checkpoint, each checked by `followKeyChanges` (exit 1 with its code otherwise). None are
 * followed when `vkeys` signed it or the bundle carries no change.
 */
export async function followBundleKeyChanges(
  bundle: LedgerBundle,
  vkeys: readonly string[],
): Promise<FollowedKeys> {
  const steps = keyChangeSteps(bundle);
  if (steps.length === 0) return { accepted: [], vkeys };
  try {
    // A checkpoint of a log none of these keys is named after is another log, not a key change.
    const { origin } = parseCheckpoint(parseNote(bundle.platform.checkpoint).text);
    if (!vkeys.some((vkey) => vkey.startsWith(`${origin}+`))) return { accepted: [], vkeys };
    const trusted = vkeys.map((vkey) => parseVerifierKey(vkey, nodeVerifyProvider));
    const accepted = await followKeyChanges(
      nodeHasher,
      nodeVerifyProvider,
      trusted,
      steps,
      bundle.platform.checkpoint,
    );
    const last = accepted.at(-1);
    if (last === undefined) return { accepted, vkeys };
    const witnesses = vkeys.filter((vkey) => !vkey.startsWith(`${last.origin}+`));
    return { accepted, vkeys: [...last.newVkeys, ...witnesses] };
  } catch (error) {
    if (isLedgerError(error)) throw verificationFailed(error.code, error.message);
    throw error;
  }
}

/** One line per followed key change: the log, old key → new key, where and when. */
export function describeKeyChanges(accepted: readonly AcceptedKeyChange[]): string {
  return accepted
    .map(
      (change) =>
        `key change of ${change.origin}: ${change.oldKeys.join(', ')} → ${change.newVkeys.map(keyIdOf).join(', ')} ` +
        `at platform log size ${change.previous.size} (recorded ${change.at}), extended by the new key's log to size ${change.checkpoint.size}\n`,
    )
    .join('');
}

/** `name+keyid` of a vkey. */
function keyIdOf(vkey: string): string {
  return vkey.slice(0, vkey.indexOf('+', vkey.indexOf('+') + 1));
}
