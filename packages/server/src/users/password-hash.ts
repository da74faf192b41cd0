/**
 * Password hashing with scrypt (node:crypto) at the OWASP Password Storage Cheat Sheet cost:
 * N = 2^17, r = 8, p = 1, a 16-byte random salt and a 32-byte key. The stored string names
 * its parameters (PHC string format, `$scrypt$ln=17,r=8,p=1$salt$hash`), so the cost can be
 * raised later: a hash below the current cost is re-hashed at the next successful sign-in.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { SCRYPT_OWASP_PARAMS, type ScryptParams } from '@palisade/crypto';

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/**
 * Highest stored cost accepted: a tampered row must not make verification unbounded. Memory is
 * 128·N·r bytes (the current cost takes 128 MiB); p multiplies the time.
 */
const MAX_LOG_N = 20;
const MAX_MEMORY_BYTES = 512 * 1024 * 1024;
const MAX_PARALLEL = 4;
const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** The cost new hashes get. */
export const PASSWORD_SCRYPT: ScryptParams = SCRYPT_OWASP_PARAMS;

interface ParsedHash {
  readonly params: ScryptParams;
  readonly salt: Buffer;
  readonly key: Buffer;
}

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFC'),
      salt,
      KEY_BYTES,
      { ...params, maxmem: 256 * params.N * params.r },
      (error, key) => (error === null ? resolve(key) : reject(error)),
    );
  });
}

function parse(stored: string): ParsedHash | undefined {
  const match = PHC.exec(stored);
  if (match === null) return undefined;
  const [, ln, r, p, salt, key] = match;
  const logN = Number(ln);
  const params = { N: 2 ** logN, r: Number(r), p: Number(p) };
  if (logN < 1 || logN > MAX_LOG_N || params.r < 1 || params.p < 1) return undefined;
  if (128 * params.N * params.r > MAX_MEMORY_BYTES || params.p > MAX_PARALLEL) return undefined;
  return {
    params,
    salt: Buffer.from(salt!, 'base64'),
    key: Buffer.from(key!, 'base64'),
  };
}

/** A fresh salted hash of `password` at the current cost. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  return encode(PASSWORD_SCRYPT, salt, await derive(password, salt, PASSWORD_SCRYPT));
}

function encode(params: ScryptParams, salt: Buffer, key: Buffer): string {
  const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=${Math.log2(params.N)},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

/**
 * A hash at the current cost that no password matches (its key is random, not derived):
 * checking an unknown account against it costs what checking a real one does.
 */
export function unmatchableHash(): string {
  return encode(PASSWORD_SCRYPT, randomBytes(SALT_BYTES), randomBytes(KEY_BYTES));
}

/** Whether `password` matches the stored hash; compared in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (parsed === undefined) return false;
  const key = await derive(password, parsed.salt, parsed.params);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

/** True when the stored hash is cheaper than the current cost. */
export function needsRehash(stored: string): boolean {
  const parsed = parse(stored);
  if (parsed === undefined) return true;
  const { N, r, p } = parsed.params;
  return N < PASSWORD_SCRYPT.N || r < PASSWORD_SCRYPT.r || p < PASSWORD_SCRYPT.p;
}

/** The scrypt parameters a stored hash names (what the tests and operators inspect). */
export function passwordHashParams(stored: string): ScryptParams | undefined {
  return parse(stored)?.params;
}
