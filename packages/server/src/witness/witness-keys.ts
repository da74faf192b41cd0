/**
 * The witness key file: one JSON object holding a 32-byte Ed25519 seed (cosignature type
 * 0x04) and a 32-byte ML-DSA-44 seed (FIPS 204 ξ, cosignature type 0x06) under one witness
 * name. Seeds, not expanded keys, so the file is small and the public keys are derived.
 * The file is created with mode 0600 and refused when group or others can read it.
 */
import { createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import {
  formatVerifierKey,
  fromBase64,
  isValidKeyName,
  type NoteSigner,
  SIGNATURE_TYPES,
  toBase64,
} from '@palisade/ledger';
import {
  ed25519CosignatureSigner,
  ed25519PrivateKeyFromSeed,
  mldsa44PrivateKeyFromSeed,
  mldsa44Signer,
  nodeSha256,
} from '@palisade/ledger/node';
import { ConfigError } from '../config/index.ts';

/** The `format` field of a witness key file. */
export const WITNESS_KEY_FORMAT = 'palisade-witness-key/v1';

/** Bytes in each seed. */
const SEED_BYTES = 32;

/** A witness's signing identity. */
export interface WitnessKeys {
  /** The witness name (a C2SP signed-note key name, e.g. `witness.example.com/w1`). */
  readonly name: string;
  /** The cosigners: Ed25519 (0x04) first, then ML-DSA-44 (0x06). */
  readonly signers: readonly NoteSigner[];
  /** The C2SP vkeys of {@link signers}, in the same order; give these to the platform. */
  readonly vkeys: readonly string[];
}

/** The JSON stored in a witness key file. */
interface WitnessKeyFile {
  readonly format: typeof WITNESS_KEY_FORMAT;
  readonly name: string;
  /** base64 of the 32-byte Ed25519 seed. */
  readonly ed25519Seed: string;
  /** base64 of the 32-byte ML-DSA-44 seed ξ. */
  readonly mldsa44Seed: string;
}

function rawPublic(privateKey: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(privateKey).export({ format: 'raw-public' }));
}

/** Builds the signers and vkeys for `name` from the two seeds. */
export function witnessKeysFromSeeds(
  name: string,
  ed25519Seed: Uint8Array,
  mldsa44Seed: Uint8Array,
): WitnessKeys {
  if (!isValidKeyName(name)) throw new ConfigError(`invalid witness name ${JSON.stringify(name)}`);
  const ed25519 = ed25519PrivateKeyFromSeed(ed25519Seed);
  const mldsa44 = mldsa44PrivateKeyFromSeed(mldsa44Seed);
  return {
    name,
    signers: [ed25519CosignatureSigner(name, ed25519), mldsa44Signer(name, mldsa44)],
    vkeys: [
      formatVerifierKey(nodeSha256, name, SIGNATURE_TYPES.ed25519Cosignature, rawPublic(ed25519)),
      formatVerifierKey(nodeSha256, name, SIGNATURE_TYPES.mldsa44Cosignature, rawPublic(mldsa44)),
    ],
  };
}

/**
 * Generates fresh seeds for `name`, writes them to `path` (mode 0600, fsync'd; an existing
 * file is never overwritten) and returns the keys.
 */
export function createWitnessKeyFile(path: string, name: string): WitnessKeys {
  const ed25519Seed = new Uint8Array(randomBytes(SEED_BYTES));
  const mldsa44Seed = new Uint8Array(randomBytes(SEED_BYTES));
  const keys = witnessKeysFromSeeds(name, ed25519Seed, mldsa44Seed);
  const file: WitnessKeyFile = {
    format: WITNESS_KEY_FORMAT,
    name,
    ed25519Seed: toBase64(ed25519Seed),
    mldsa44Seed: toBase64(mldsa44Seed),
  };
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new ConfigError(`${path} exists; a witness key is never overwritten`);
    throw error;
  }
  try {
    writeSync(fd, `${JSON.stringify(file, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return keys;
}

function seedField(file: Record<string, unknown>, field: string, path: string): Uint8Array {
  const value = file[field];
  const seed = typeof value === 'string' ? fromBase64(value) : undefined;
  if (seed?.length !== SEED_BYTES)
    throw new ConfigError(`${path}: ${field} must be base64 of ${SEED_BYTES} bytes`);
  return seed;
}

/** Reads a witness key file. Throws `ConfigError` naming the bad field or the loose mode. */
export function loadWitnessKeys(path: string): WitnessKeys {
  const mode = statSync(path).mode;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new ConfigError(
      `${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); run chmod 600 ${path}`,
    );
  }
  let file: unknown;
  try {
    file = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${path} is not a JSON witness key file: ${(error as Error).message}`);
  }
  if (typeof file !== 'object' || file === null || Array.isArray(file))
    throw new ConfigError(`${path} is not a JSON object`);
  const fields = file as Record<string, unknown>;
  if (fields.format !== WITNESS_KEY_FORMAT)
    throw new ConfigError(`${path}: format must be ${JSON.stringify(WITNESS_KEY_FORMAT)}`);
  if (typeof fields.name !== 'string') throw new ConfigError(`${path}: name must be a string`);
  return witnessKeysFromSeeds(
    fields.name,
    seedField(fields, 'ed25519Seed', path),
    seedField(fields, 'mldsa44Seed', path),
  );
}
