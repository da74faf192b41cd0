/**
 * Deriving the master key from a passphrase with scrypt. The parameters file beside the
 * keystore holds the salt, the scrypt parameters and the master key's public id, so a wrong
 * passphrase fails at start-up with `CRYPTO_BAD_MASTER_KEY` instead of later, at the first
 * sealed record.
 */
import { randomBytes, scrypt } from 'node:crypto';
import { CryptoError } from '../errors.ts';
import { MASTER_KEY_LENGTH, MasterKey } from './master-key.ts';

/** scrypt cost parameters. */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  /** Block size. */
  readonly r: number;
  /** Parallelization. */
  readonly p: number;
}

/**
 * OWASP Password Storage Cheat Sheet minimum for scrypt: N = 2^17, r = 8, p = 1 (128 MiB,
 * a few hundred milliseconds once per start-up).
 */
export const SCRYPT_OWASP_PARAMS: ScryptParams = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });

/** Salt length in bytes. */
export const PASSPHRASE_SALT_LENGTH = 16;

/** The parameters file's JSON shape. */
export interface PassphraseParams extends ScryptParams {
  readonly kdf: 'scrypt';
  /** base64 salt. */
  readonly salt: string;
  /** The derived master key's public id. */
  readonly keyId: string;
}

function checkParams(value: unknown, what: string): PassphraseParams {
  const v = value as Partial<PassphraseParams> | null;
  const ok =
    v !== null &&
    typeof v === 'object' &&
    v.kdf === 'scrypt' &&
    Number.isInteger(v.N) &&
    v.N! >= 2 ** 14 &&
    v.N! <= 2 ** 24 &&
    (v.N! & (v.N! - 1)) === 0 &&
    Number.isInteger(v.r) &&
    v.r! >= 1 &&
    v.r! <= 32 &&
    Number.isInteger(v.p) &&
    v.p! >= 1 &&
    v.p! <= 16 &&
    typeof v.salt === 'string' &&
    Buffer.from(v.salt, 'base64').length >= PASSPHRASE_SALT_LENGTH &&
    typeof v.keyId === 'string';
  if (!ok) {
    throw new CryptoError(
      'CRYPTO_BAD_MASTER_KEY',
      `${what} is not a valid passphrase parameters file`,
    );
  }
  return v as PassphraseParams;
}

function deriveKey(passphrase: string, salt: Buffer, params: ScryptParams): Promise<MasterKey> {
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    return Promise.reject(
      new CryptoError('CRYPTO_BAD_MASTER_KEY', 'the passphrase must be a non-empty string'),
    );
  }
  const maxmem = 256 * params.N * params.r + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(
      passphrase.normalize('NFC'),
      salt,
      MASTER_KEY_LENGTH,
      { ...params, maxmem },
      (error, bytes) => {
        if (error)
          return reject(
            new CryptoError('CRYPTO_BAD_MASTER_KEY', 'scrypt failed on the stored parameters', {
              cause: error,
            }),
          );
        try {
          resolve(MasterKey.fromBytes(bytes));
        } catch (e) {
          reject(e);
        } finally {
          bytes.fill(0);
        }
      },
    );
  });
}

/** Derives a master key with a fresh salt; returns it with the parameters file contents. */
export async function createPassphraseKey(
  passphrase: string,
  params: ScryptParams = SCRYPT_OWASP_PARAMS,
): Promise<{ key: MasterKey; params: PassphraseParams }> {
  const salt = randomBytes(PASSPHRASE_SALT_LENGTH);
  const key = await deriveKey(passphrase, salt, params);
  const stored = checkParams(
    {
      kdf: 'scrypt',
      N: params.N,
      r: params.r,
      p: params.p,
      salt: salt.toString('base64'),
      keyId: key.id,
    },
    'the requested scrypt parameters',
  );
  return { key, params: stored };
}

/**
 * Derives the master key from a passphrase and the stored parameters (parsed JSON). A
 * passphrase that yields another key id throws `CRYPTO_BAD_MASTER_KEY`.
 */
export async function openPassphraseKey(
  passphrase: string,
  stored: unknown,
  what: string,
): Promise<MasterKey> {
  const params = checkParams(stored, what);
  const key = await deriveKey(passphrase, Buffer.from(params.salt, 'base64'), params);
  if (key.id !== params.keyId) {
    key.destroy();
    throw new CryptoError('CRYPTO_BAD_MASTER_KEY', `the passphrase does not match ${what}`);
  }
  return key;
}
