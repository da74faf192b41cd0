/**
 * Finding the master key at start-up. Sources, first match wins:
 *
 * 1. `PALISADE_MASTER_KEY` in `env`: 32 bytes as 64 hex digits or base64.
 * 2. `passphrase` + `keyFile`: scrypt of the passphrase; `keyFile` holds the salt and
 *    parameters (JSON), never the key.
 * 3. `keyFile`: the key itself, base64 (or hex) text.
 *
 * With `generateIfMissing`, a missing `keyFile` is created (mode 0600, parent folder 0700,
 * never overwriting) and the result says `generated: true` so the caller can warn that a new
 * key now guards the data and must be backed up.
 */
import { type FileHandle, mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CryptoError } from '../errors.ts';
import { MasterKey } from './master-key.ts';
import { createPassphraseKey, openPassphraseKey, type ScryptParams } from './passphrase.ts';

/** The environment variable holding the master key. */
export const MASTER_KEY_ENV = 'PALISADE_MASTER_KEY';

/** Where to look for the master key. */
export interface LoadMasterKeyOptions {
  /** Environment to read `PALISADE_MASTER_KEY` from; pass `process.env` explicitly. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The key file, or with `passphrase` the passphrase parameters (salt) file. */
  readonly keyFile?: string;
  /** Derive the key from this passphrase (needs `keyFile` for the salt). */
  readonly passphrase?: string;
  /** Create `keyFile` (a new random key, or a new salt) when it does not exist. */
  readonly generateIfMissing?: boolean;
  /** scrypt parameters for a newly generated passphrase file; default OWASP's. */
  readonly scrypt?: ScryptParams;
}

/** The loaded key and how it was found. */
export interface LoadedMasterKey {
  readonly key: MasterKey;
  readonly source: 'env' | 'key-file' | 'passphrase';
  /** True when this call created `path`: log a warning and back the key up. */
  readonly generated: boolean;
  /** The file used, when one was. */
  readonly path?: string;
  /** Things an operator should fix (e.g. a key file readable by others). */
  readonly warnings: readonly string[];
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw new CryptoError('CRYPTO_BAD_MASTER_KEY', `cannot read ${path}`, { cause: error });
  }
}

/**
 * Writes a new secret file with mode 0600 and flushes it to disk (what is sealed under the key
 * is durable, so the key must be first); false when it already exists.
 */
async function createSecretFile(path: string, contents: string): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let file: FileHandle;
  try {
    file = await open(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new CryptoError('CRYPTO_BAD_MASTER_KEY', `cannot create ${path}`, { cause: error });
  }
  try {
    await file.writeFile(contents);
    await file.sync();
    return true;
  } catch (error) {
    throw new CryptoError('CRYPTO_BAD_MASTER_KEY', `cannot write ${path}`, { cause: error });
  } finally {
    await file.close();
  }
}

async function permissionWarnings(path: string): Promise<string[]> {
  if (process.platform === 'win32') return [];
  const { mode } = await stat(path);
  if ((mode & 0o077) === 0) return [];
  return [
    `${path} is accessible by group or others (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it`,
  ];
}

async function fromPassphrase(
  options: LoadMasterKeyOptions,
  path: string,
): Promise<LoadedMasterKey> {
  const passphrase = options.passphrase ?? '';
  let text = await readOptional(path);
  if (text === undefined && options.generateIfMissing === true) {
    const created = await createPassphraseKey(passphrase, options.scrypt);
    if (await createSecretFile(path, `${JSON.stringify(created.params)}\n`)) {
      return { key: created.key, source: 'passphrase', generated: true, path, warnings: [] };
    }
    created.key.destroy();
    text = await readOptional(path);
  }
  if (text === undefined) {
    throw new CryptoError(
      'CRYPTO_MASTER_KEY_MISSING',
      `the passphrase parameters file ${path} does not exist`,
    );
  }
  let stored: unknown;
  try {
    stored = JSON.parse(text);
  } catch {
    throw new CryptoError(
      'CRYPTO_BAD_MASTER_KEY',
      `${path} is not a valid passphrase parameters file`,
    );
  }
  const key = await openPassphraseKey(passphrase, stored, path);
  return {
    key,
    source: 'passphrase',
    generated: false,
    path,
    warnings: await permissionWarnings(path),
  };
}

async function fromKeyFile(options: LoadMasterKeyOptions, path: string): Promise<LoadedMasterKey> {
  let text = await readOptional(path);
  if (text === undefined && options.generateIfMissing === true) {
    const key = MasterKey.generate();
    if (await createSecretFile(path, `${key.exportBase64()}\n`)) {
      return { key, source: 'key-file', generated: true, path, warnings: [] };
    }
    key.destroy();
    text = await readOptional(path);
  }
  if (text === undefined) {
    throw new CryptoError(
      'CRYPTO_MASTER_KEY_MISSING',
      `the master key file ${path} does not exist`,
    );
  }
  const key = MasterKey.fromText(text, `the master key file ${path}`);
  return {
    key,
    source: 'key-file',
    generated: false,
    path,
    warnings: await permissionWarnings(path),
  };
}

/**
 * Loads (or, when told to, creates) the master key.
 * @throws CryptoError `CRYPTO_MASTER_KEY_MISSING` (no source, nothing generated),
 *   `CRYPTO_BAD_MASTER_KEY` (malformed value or file, wrong passphrase),
 *   `CRYPTO_INVALID_OPTION` (a passphrase without a `keyFile` for its salt).
 */
export async function loadMasterKey(options: LoadMasterKeyOptions): Promise<LoadedMasterKey> {
  const fromEnv = options.env?.[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const key = MasterKey.fromText(fromEnv, MASTER_KEY_ENV);
    const warnings =
      options.keyFile !== undefined || options.passphrase !== undefined
        ? [`${MASTER_KEY_ENV} is set, so the configured key file or passphrase is ignored`]
        : [];
    return { key, source: 'env', generated: false, warnings };
  }
  if (options.passphrase !== undefined) {
    if (options.keyFile === undefined) {
      throw new CryptoError(
        'CRYPTO_INVALID_OPTION',
        'a passphrase needs keyFile: the file that stores its salt',
      );
    }
    return fromPassphrase(options, options.keyFile);
  }
  if (options.keyFile !== undefined) return fromKeyFile(options, options.keyFile);
  throw new CryptoError(
    'CRYPTO_MASTER_KEY_MISSING',
    `no master key: set ${MASTER_KEY_ENV}, or configure a key file or a passphrase`,
  );
}
