/**
 * The platform's master key: `PALISADE_MASTER_KEY` (the `masterKey` setting), a passphrase
 * (scrypt; the key file then holds its salt), or the key file (default `DATA/master.key`).
 * With none, the first start generates the key file (mode 0600) and says loudly that
 * production must supply its own. A platform that already holds tenant keys never generates
 * one, and refuses a key other than the one they are sealed under: either would start a
 * server that can open none of its tenants' encrypted data (a data folder moved or restored
 * without its key file, a key from another installation). The key is held by a `LocalKms`; anything implementing
 * `Kms` (a cloud KMS, an HSM) can replace it.
 */
import { join } from 'node:path';
import { CryptoError, type Kms, LocalKms, loadMasterKey, readSealedHeader } from '@palisade/crypto';
import type { Logger } from 'pino';
import { ConfigError, type Settings } from '../config/index.ts';

/** The key file the settings name (or its default under the data folder). */
export function masterKeyFile(settings: Settings): string {
  return settings.masterKeyFile ?? join(settings.data, 'master.key');
}

/**
 * Loads (or at first start generates) the master key and returns the KMS that holds it.
 * `sealed`: a value the platform sealed under its master key (a tenant KEK); when given, the
 * key must be the one that sealed it, and none is generated.
 */
export async function openPlatformKms(
  settings: Settings,
  logger?: Pick<Logger, 'warn'>,
  options: { generateIfMissing?: boolean; sealed?: Uint8Array | undefined } = {},
): Promise<Kms> {
  const path = masterKeyFile(settings);
  const sealedUnder =
    options.sealed === undefined ? undefined : readSealedHeader(options.sealed).masterKeyId;
  try {
    // The key given itself needs no file: only one named in the settings is worth a warning.
    const keyFile = settings.masterKey === undefined ? path : settings.masterKeyFile;
    const loaded = await loadMasterKey({
      env: { PALISADE_MASTER_KEY: settings.masterKey },
      ...(keyFile === undefined ? {} : { keyFile }),
      ...(settings.masterPassphrase === undefined ? {} : { passphrase: settings.masterPassphrase }),
      generateIfMissing: sealedUnder === undefined && (options.generateIfMissing ?? true),
    });
    const kms = new LocalKms(loaded.key);
    if (sealedUnder !== undefined && kms.keyId !== sealedUnder)
      throw new ConfigError(
        `the master key ${kms.keyId} is not the one this platform's tenant keys are sealed under (${sealedUnder}): ` +
          'start with that key (its key file, PALISADE_MASTER_KEY or PALISADE_MASTER_PASSPHRASE); ' +
          'if palisade keys rotate-master was interrupted, run it again to finish',
      );
    if (loaded.generated) {
      logger?.warn(
        { path, masterKeyId: kms.keyId },
        `generated a new master key in ${path} (mode 0600). Fine for a laptop; production must supply its own ` +
          '(PALISADE_MASTER_KEY from a secret store, a key file, or PALISADE_MASTER_PASSPHRASE) and back it up: ' +
          "losing it makes every tenant's encrypted fields unreadable",
      );
    }
    for (const warning of loaded.warnings) logger?.warn({ masterKeyId: kms.keyId }, warning);
    return kms;
  } catch (error) {
    if (
      error instanceof CryptoError &&
      sealedUnder !== undefined &&
      error.code === 'CRYPTO_MASTER_KEY_MISSING'
    )
      throw new ConfigError(
        `master key (${error.code}): ${error.message}, but this platform's tenant keys are sealed under master key ${sealedUnder}: ` +
          `put its key file at ${path} (or name it with --master-key-file), or set PALISADE_MASTER_KEY or PALISADE_MASTER_PASSPHRASE; ` +
          'a new key would open none of their encrypted data',
      );
    if (error instanceof CryptoError)
      throw new ConfigError(`master key (${error.code}): ${error.message}`);
    throw error;
  }
}
