/**
 * Base class of every object that holds secret bytes (data keys, blind-index keys, the master
 * key, X-Wing seeds). The bytes live in a module-private WeakMap, never in a property, so
 * `util.inspect`, `JSON.stringify`, `Object.keys`, structured logging and error serializers
 * cannot reach them; `toJSON` and the Node inspect hook print a redacted stand-in.
 *
 * `destroy()` overwrites the bytes with zeros (best effort: see the README's Security notes)
 * and makes every later use throw `CRYPTO_KEY_DESTROYED` rather than silently encrypt under a
 * zero key.
 */
import { createSecretKey, type KeyObject, randomFillSync } from 'node:crypto';
import { CryptoError } from '../errors.ts';
import { timingSafeEqualBytes } from '../internal/bytes.ts';

const material = new WeakMap<SecretKey, Buffer>();
/**
 * OpenSSL key objects made from the bytes, for the hot AES-GCM path: with a raw buffer,
 * OpenSSL 3 rebuilds its key context on every call (measured here: 47 µs per 100-byte
 * AES-256-GCM seal with a buffer, 14 µs with a KeyObject).
 * Node allocates a KeyObject's secret with OpenSSL's clear-on-free, so it is wiped when
 * collected; `destroy()` drops it at once.
 */
const keyObjects = new WeakMap<SecretKey, KeyObject>();
const inspectCustom = Symbol.for('nodejs.util.inspect.custom');

/** Copies `bytes` into a fresh, non-pooled buffer that only this module can reach. */
function ownCopy(bytes: Uint8Array): Buffer {
  const own = Buffer.alloc(bytes.length);
  own.set(bytes);
  return own;
}

/** Secret key material with redacted printing and explicit destruction. */
export abstract class SecretKey {
  /** A short name used by the redacted forms, e.g. `DataKey`. */
  protected abstract readonly kind: string;

  /**
   * @param bytes - Copied; the caller keeps (and should zero) its own copy.
   * @param length - Required length in bytes.
   */
  protected constructor(bytes: Uint8Array, length: number) {
    if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
      throw new CryptoError('CRYPTO_BAD_KEY', `key material must be ${length} bytes`);
    }
    material.set(this, ownCopy(bytes));
  }

  /** True once {@link SecretKey.destroy} has run. */
  get destroyed(): boolean {
    return !material.has(this);
  }

  /** Zeroes the key bytes; every later use throws `CRYPTO_KEY_DESTROYED`. Idempotent. */
  destroy(): void {
    material.get(this)?.fill(0);
    material.delete(this);
    keyObjects.delete(this);
  }

  /** Constant-time comparison of the key bytes. */
  equals(other: SecretKey): boolean {
    return timingSafeEqualBytes(revealSecret(this), revealSecret(other));
  }

  /** Redacted: keys never serialize. */
  toJSON(): { kind: string; redacted: true } {
    return { kind: this.kind, redacted: true };
  }

  /** Redacted. */
  toString(): string {
    return `[${this.kind} redacted]`;
  }

  /** Redacted form for `util.inspect` / `console.log`. */
  [inspectCustom](): string {
    return this.toString();
  }
}

/**
 * The key bytes, for this package's own cipher calls. Not exported from the package index.
 * Throws `CRYPTO_KEY_DESTROYED` after `destroy()`.
 */
export function revealSecret(key: SecretKey): Buffer {
  const bytes = material.get(key);
  if (bytes === undefined) {
    throw new CryptoError(
      'CRYPTO_KEY_DESTROYED',
      'the key was destroyed (zeroed) and cannot be used',
    );
  }
  return bytes;
}

/** The key as an OpenSSL key object (made once), for this package's cipher calls. */
export function revealKeyObject(key: SecretKey): KeyObject {
  let keyObject = keyObjects.get(key);
  if (keyObject === undefined) {
    keyObject = createSecretKey(revealSecret(key));
    keyObjects.set(key, keyObject);
  }
  return keyObject;
}

/** `length` random bytes in a fresh buffer (never the shared pool), for new keys. */
export function freshRandom(length: number): Buffer {
  return randomFillSync(Buffer.alloc(length));
}
