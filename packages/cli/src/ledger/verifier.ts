/** Reading the keys an auditor trusts, and running the verifier with the CLI's reporting. */
import { readFileSync } from 'node:fs';
import {
  type BundleProgress,
  isLedgerError,
  type LedgerBundle,
  type LedgerErrorCode,
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
