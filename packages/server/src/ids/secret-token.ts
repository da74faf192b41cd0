import { hash, randomBytes } from 'node:crypto';

/**
 * Bearer secrets are 256 random bits behind a readable prefix (`pa_` platform admin,
 * `pk_` tenant API key). Only their SHA-256 is stored: with that much entropy a slow
 * password hash buys nothing, and a hash lookup keeps authentication constant-time in
 * the secret (the database compares digests, never the secret itself).
 */
export function newSecretToken(prefix: 'pa' | 'pk'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** The stored form of a bearer secret. */
export function hashSecretToken(token: string): string {
  return hash('sha256', token, 'base64url');
}
