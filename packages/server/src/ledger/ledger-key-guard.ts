/**
 * The platform's ledger signing key against its log. Auditors and witnesses pin the key that
 * signed the platform's checkpoints, so a platform whose log already holds checkpoints never
 * makes a new key silently (a data folder moved or restored without its key file, a key file
 * setting pointing elsewhere), and refuses a key that did not sign them. A key lost for good is
 * replaced only by `palisade keys new-ledger-key`, which records the change in the platform
 * log (`platform_key_changes`), the previous checkpoint and the new verifier keys with it.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LedgerError, openNote, parseCheckpoint, parseNote } from '@palisade/ledger';
import { ConfigError, type Settings } from '../config/index.ts';
import {
  acquireRunningLock,
  openStores,
  type PlatformCheckpointRow,
  type PlatformLogStore,
} from '../store/index.ts';
import { loadLedgerKeys, type PlatformLedgerKeys } from './ledger-keys.ts';

/** The ledger key file the settings name (or its default under the data folder). */
export function ledgerKeyFile(settings: Settings): string {
  return settings.ledgerKeyFile ?? join(settings.data, 'ledger-signing.json');
}

/** The keys named in a note's signature lines, as `name+keyid`. */
function signersOf(note: string): string {
  return parseNote(note)
    .signatures.map((s) => `${s.name}+${s.keyId.toString(16).padStart(8, '0')}`)
    .join(', ');
}

/**
 * Loads the signing keys for a platform whose log is `log`: generated only while the log holds
 * no checkpoint; otherwise the file must be there and must be the key that signed the latest
 * checkpoint (or the one `palisade keys new-ledger-key` recorded since). ConfigError otherwise.
 */
export async function openLedgerKeys(
  settings: Settings,
  log: PlatformLogStore,
): Promise<{ keys: PlatformLedgerKeys; generated: boolean; file: string }> {
  const file = ledgerKeyFile(settings);
  const latest = await log.latestCheckpoint();
  if (latest !== undefined && !existsSync(file))
    throw new ConfigError(
      `the ledger signing key file ${file} is missing, but this platform's log already holds checkpoints ` +
        `(size ${latest.size}) signed by ${signersOf(latest.note)}, which auditors and witnesses trust: ` +
        `put the key file back at ${file} (or name it with --ledger-key-file); if it is lost for good, ` +
        'run palisade keys new-ledger-key, which makes a new key and records the change in the platform log',
    );
  const { keys, generated } = loadLedgerKeys(file, settings.ledgerOrigin);
  if (latest !== undefined && !(await signsLog(keys, latest, log)))
    throw new ConfigError(
      `the ledger signing key file ${file} (${keys.origin}) did not sign this platform's log: its latest ` +
        `checkpoint (size ${latest.size}) is signed by ${signersOf(latest.note)}: start with that key file ` +
        '(--ledger-key-file); if it is lost for good, move this one aside and run palisade keys new-ledger-key',
    );
  return { keys, generated, file };
}

/** True when `keys` signed `latest`, or were recorded as the new key at its size. */
async function signsLog(
  keys: PlatformLedgerKeys,
  latest: PlatformCheckpointRow,
  log: PlatformLogStore,
): Promise<boolean> {
  try {
    await openNote(latest.note, [keys.verifiers[0]!]);
    return true;
  } catch (error) {
    if (!(error instanceof LedgerError)) throw error;
  }
  const change = (await log.keyChanges()).at(-1);
  return (
    change !== undefined &&
    change.size === latest.size &&
    change.vkeys.length === keys.vkeys.length &&
    change.vkeys.every((vkey, i) => vkey === keys.vkeys[i])
  );
}

export interface LedgerKeyReplacement {
  readonly file: string;
  readonly origin: string;
  readonly vkeys: readonly string[];
  /** Size of the platform log the change was recorded at; undefined when it held no checkpoint. */
  readonly recordedAt: number | undefined;
  /** Who signed the checkpoint before the change. */
  readonly previousSigners: string | undefined;
}

/**
 * Makes a new ledger signing key in place of a lost one and records the change in the platform
 * log, offline (the running lock refuses while a server runs). Refused when the key file is
 * there: a key that is not lost is not replaced. The origin stays the log's unless
 * `ledgerOrigin` names another.
 */
export async function replaceLedgerKey(settings: Settings): Promise<LedgerKeyReplacement> {
  const running = await acquireRunningLock(settings, 'exclusive');
  try {
    const file = ledgerKeyFile(settings);
    if (existsSync(file))
      throw new ConfigError(
        `the ledger signing key file ${file} is there: a key that is not lost is not replaced; ` +
          'to replace it anyway (a leaked key), move it aside first and keep it for the audit',
      );
    const stores = await openStores(settings);
    try {
      const latest = await stores.platformLog.latestCheckpoint();
      const logOrigin =
        latest === undefined ? undefined : parseCheckpoint(parseNote(latest.note).text).origin;
      const { keys } = loadLedgerKeys(file, settings.ledgerOrigin ?? logOrigin);
      if (latest === undefined)
        return {
          file,
          origin: keys.origin,
          vkeys: keys.vkeys,
          recordedAt: undefined,
          previousSigners: undefined,
        };
      try {
        await stores.platformLog.appendKeyChange({
          size: latest.size,
          previousNote: latest.note,
          vkeys: keys.vkeys,
          at: new Date().toISOString(),
        });
      } catch (error) {
        rmSync(file, { force: true }); // unrecorded, it would be refused at start
        throw error;
      }
      return {
        file,
        origin: keys.origin,
        vkeys: keys.vkeys,
        recordedAt: latest.size,
        previousSigners: signersOf(latest.note),
      };
    } finally {
      await stores.close();
    }
  } finally {
    await running.release();
  }
}
