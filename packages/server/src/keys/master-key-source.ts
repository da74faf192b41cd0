/**
 * The platform's master key: `PALISADE_MASTER_KEY` (the `masterKey` setting), a passphrase
 * (scrypt; the key file then holds its salt), or the key file (default `DATA/master.key`).
 * With none, the first start generates the key file (mode 0600) and says loudly that
 * production must supply its own. The key is held by a `LocalKms`; anything implementing
 * `Kms` (a cloud KMS, an HSM) can replace it.
 */
import { join } from 'node:path';
import { CryptoError, type Kms, LocalKms, loadMasterKey } from '@palisade/crypto';
import type { Logger } from 'pino';
import { ConfigError, type Settings } from '../config/index.ts';

/** The key file the settings name (or its default under the data folder). */
export function masterKeyFile(settings: Settings): string {
  return settings.masterKeyFile ?? join(settings.data, 'master.key');
}

/** Loads (or at first start generates) the master key and returns the KMS that holds it. */
export async function openPlatformKms(
  settings: Settings,
  logger?: Pick<Logger, 'warn'>,
  options: { generateIfMissing?: boolean } = {},
): Promise<Kms> {
  const path = masterKeyFile(settings);
  try {
    const loaded = await loadMasterKey({
      env: { PALISADE_MASTER_KEY: settings.masterKey },
      keyFile: path,
      ...(settings.masterPassphrase === undefined ? {} : { passphrase: settings.masterPassphrase }),
      generateIfMissing: options.generateIfMissing ?? true,
    });
    const kms = new LocalKms(loaded.key);
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
    if (error instanceof CryptoError)
      throw new ConfigError(`master key (${error.code}): ${error.message}`);
    throw error;
  }
}
