/**
 * A keyring holds every known version of one data key: it decrypts under any of them and
 * encrypts only under the newest, so rotation is "add a version"; old ciphertexts stay
 * readable until a background job re-encrypts them.
 */
import { CryptoError } from '../errors.ts';
import type { DataKey } from './data-key.ts';

/** All known versions of one data key id. */
export class DataKeyring {
  /** The key id every version shares. */
  readonly keyId: string;
  readonly #versions: Map<number, DataKey>;
  readonly #current: DataKey;

  /**
   * @param keys - At least one key; all with the same `keyId` and distinct versions.
   */
  constructor(keys: Iterable<DataKey>) {
    const list = [...keys];
    const first = list[0];
    if (first === undefined) {
      throw new CryptoError('CRYPTO_INVALID_OPTION', 'a keyring needs at least one key');
    }
    this.keyId = first.keyId;
    this.#versions = new Map();
    let current = first;
    for (const key of list) {
      if (key.keyId !== this.keyId) {
        throw new CryptoError(
          'CRYPTO_KEY_ID_MISMATCH',
          'every key in a keyring must share one keyId',
        );
      }
      if (this.#versions.has(key.version)) {
        throw new CryptoError('CRYPTO_INVALID_OPTION', `key version ${key.version} appears twice`);
      }
      this.#versions.set(key.version, key);
      if (key.version > current.version) current = key;
    }
    this.#current = current;
  }

  /** The newest version: the only one used to encrypt. */
  get current(): DataKey {
    return this.#current;
  }

  /** The known versions, ascending. */
  get versions(): number[] {
    return [...this.#versions.keys()].sort((a, b) => a - b);
  }

  /** The key of `version`; throws `CRYPTO_UNKNOWN_KEY_VERSION` when it is not held. */
  get(version: number): DataKey {
    const key = this.#versions.get(version);
    if (key === undefined) {
      throw new CryptoError(
        'CRYPTO_UNKNOWN_KEY_VERSION',
        `key ${this.keyId} has no version ${version} in this keyring`,
      );
    }
    return key;
  }

  /** Redacted summary. */
  toJSON(): { kind: string; keyId: string; versions: number[] } {
    return { kind: 'DataKeyring', keyId: this.keyId, versions: this.versions };
  }

  /** Redacted summary for `util.inspect`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `[DataKeyring ${this.keyId} v${this.versions.join(',v')}]`;
  }
}
