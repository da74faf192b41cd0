/** The checkpoints online verification remembers, so a rewritten history is caught next time. */
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from '../cli-error.ts';
import { writeFileAtomic } from '../files.ts';

/** Remembered checkpoints, so a rewritten history is caught on the next online run. */
export interface TrustStore {
  [origin: string]: { size: number; root: string; keys: string[] };
}

function trustStorePath(): string {
  return join(
    process.env.PALISADE_HOME ?? join(homedir(), '.palisade'),
    'trusted-checkpoints.json',
  );
}

/**
 * The remembered checkpoints; none only when the file does not exist. A damaged file is an
 * error, never a first use: that would let a rewritten history through.
 */
export function readTrustStore(): TrustStore {
  const path = trustStorePath();
  try {
    const store: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof store !== 'object' || store === null || Array.isArray(store))
      throw new Error('not a JSON object');
    return store as TrustStore;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return {};
    throw new CliError(
      `the trusted checkpoints in ${path} are unreadable (${(error as Error).message}); restore it from a backup, or move it away to trust the log afresh as on first use`,
    );
  }
}

export function writeTrustStore(store: TrustStore): void {
  const path = trustStorePath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileAtomic(path, `${JSON.stringify(store, null, 2)}\n`, 0o600);
}
