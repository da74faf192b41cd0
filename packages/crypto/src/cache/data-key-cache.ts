/**
 * A bounded, expiring cache of unwrapped data keys, so a hot path decrypts fields without an
 * X-Wing decapsulation per request. Entries are namespaced by tenant (tenant + key id +
 * version), so one tenant can never be handed another's key. Evicted, expired, replaced and
 * cleared keys are destroyed (their bytes zeroed).
 *
 * Ownership: the cache owns every key it is given. Use a key from `get` for one synchronous
 * operation (encryptField / decryptField) and look it up again after any `await`; a key
 * evicted meanwhile throws `CRYPTO_KEY_DESTROYED` rather than encrypting under zeros.
 */
import { CryptoError } from '../errors.ts';
import type { DataKey } from '../keys/data-key.ts';

/** Options of {@link DataKeyCache}. */
export interface DataKeyCacheOptions {
  /** Most keys held at once; the least recently used goes first. */
  readonly maxEntries: number;
  /** How long a key stays usable after it was added, in milliseconds (not extended by use). */
  readonly ttlMs: number;
  /** Clock, for tests; default `Date.now`. */
  readonly now?: () => number;
}

interface Entry {
  readonly tenantId: string;
  readonly key: DataKey;
  readonly expiresAt: number;
}

/** Identifies a pending load (the hot `get` path uses the nested index instead). */
function loadId(tenantId: string, keyId: string, version: number): string {
  return JSON.stringify([tenantId, keyId, version]);
}

/** An LRU + TTL cache of data keys per tenant. */
export class DataKeyCache {
  /**
   * tenant → key id → version → entry: looked up without building a string key, which cost
   * as much as the rest of a lookup on every encrypted read and write.
   */
  readonly #index = new Map<string, Map<string, Map<number, Entry>>>();
  /** The same entries, least recently used first. */
  readonly #order = new Set<Entry>();
  /** Loads in flight; one dropped from here (delete, deleteTenant, clear) is not cached. */
  readonly #loading = new Map<
    string,
    { readonly tenantId: string; readonly key: Promise<DataKey> }
  >();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: DataKeyCacheOptions) {
    const { maxEntries, ttlMs } = options ?? ({} as DataKeyCacheOptions);
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new CryptoError('CRYPTO_INVALID_OPTION', 'maxEntries must be a positive integer');
    }
    if (typeof ttlMs !== 'number' || !(ttlMs > 0)) {
      throw new CryptoError('CRYPTO_INVALID_OPTION', 'ttlMs must be a positive number');
    }
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
    this.#now = options.now ?? Date.now;
  }

  /** Number of keys held (expired ones included until pruned). */
  get size(): number {
    return this.#order.size;
  }

  #find(tenantId: string, keyId: string, version: number): Entry | undefined {
    return this.#index.get(tenantId)?.get(keyId)?.get(version);
  }

  /** The cached key, or undefined when absent or expired. */
  get(tenantId: string, keyId: string, version: number): DataKey | undefined {
    const entry = this.#find(tenantId, keyId, version);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#evict(entry);
      return undefined;
    }
    this.#order.delete(entry);
    this.#order.add(entry); // most recently used goes last
    return entry.key;
  }

  /** Adds a key for `tenantId` (the cache now owns it), evicting as needed. */
  set(tenantId: string, key: DataKey): void {
    const previous = this.#find(tenantId, key.keyId, key.version);
    if (previous !== undefined) this.#unlink(previous);
    if (previous !== undefined && previous.key !== key) previous.key.destroy();
    this.prune();
    while (this.#order.size >= this.#maxEntries) {
      const oldest = this.#order.values().next().value;
      if (oldest === undefined) break;
      this.#evict(oldest);
    }
    const entry = { tenantId, key, expiresAt: this.#now() + this.#ttlMs };
    let byKeyId = this.#index.get(tenantId);
    if (byKeyId === undefined) {
      byKeyId = new Map();
      this.#index.set(tenantId, byKeyId);
    }
    let byVersion = byKeyId.get(key.keyId);
    if (byVersion === undefined) {
      byVersion = new Map();
      byKeyId.set(key.keyId, byVersion);
    }
    byVersion.set(key.version, entry);
    this.#order.add(entry);
  }

  /**
   * The cached key, or the result of `load` (e.g. fetch the wrapped key and unwrap it), which
   * is cached. Concurrent calls for the same key share one load.
   */
  async getOrLoad(
    tenantId: string,
    keyId: string,
    version: number,
    load: () => Promise<DataKey>,
  ): Promise<DataKey> {
    const cached = this.get(tenantId, keyId, version);
    if (cached !== undefined) return cached;
    const id = loadId(tenantId, keyId, version);
    const loading = this.#loading.get(id);
    if (loading !== undefined) return loading.key;
    const pending = {
      tenantId,
      key: load().then((key) => {
        if (key.keyId !== keyId || key.version !== version) {
          key.destroy();
          throw new CryptoError(
            'CRYPTO_KEY_ID_MISMATCH',
            'the loader returned a different key than requested',
          );
        }
        if (this.#loading.get(id) !== pending) {
          key.destroy();
          throw new CryptoError(
            'CRYPTO_KEY_DESTROYED',
            'the key was dropped from the cache while it was loading',
          );
        }
        this.set(tenantId, key);
        return key;
      }),
    };
    this.#loading.set(id, pending);
    const settled = () => {
      if (this.#loading.get(id) === pending) this.#loading.delete(id);
    };
    pending.key.then(settled, settled);
    return pending.key;
  }

  /** Drops and destroys one key. */
  delete(tenantId: string, keyId: string, version: number): void {
    this.#loading.delete(loadId(tenantId, keyId, version));
    const entry = this.#find(tenantId, keyId, version);
    if (entry !== undefined) this.#evict(entry);
  }

  /** Drops and destroys every key of a tenant (e.g. when the tenant is deleted). */
  deleteTenant(tenantId: string): void {
    for (const [id, loading] of this.#loading) {
      if (loading.tenantId === tenantId) this.#loading.delete(id);
    }
    for (const byVersion of this.#index.get(tenantId)?.values() ?? []) {
      for (const entry of byVersion.values()) this.#evict(entry);
    }
  }

  /** Drops and destroys every expired key. */
  prune(): void {
    const now = this.#now();
    for (const entry of this.#order) {
      if (entry.expiresAt <= now) this.#evict(entry);
    }
  }

  /** Drops and destroys every key. */
  clear(): void {
    this.#loading.clear();
    for (const entry of this.#order) this.#evict(entry);
  }

  #unlink(entry: Entry): void {
    this.#order.delete(entry);
    const { tenantId, key } = entry;
    const byKeyId = this.#index.get(tenantId);
    const byVersion = byKeyId?.get(key.keyId);
    if (byKeyId === undefined || byVersion === undefined) return;
    if (byVersion.get(key.version) !== entry) return;
    byVersion.delete(key.version);
    if (byVersion.size > 0) return;
    byKeyId.delete(key.keyId);
    if (byKeyId.size === 0) this.#index.delete(tenantId);
  }

  #evict(entry: Entry): void {
    this.#unlink(entry);
    entry.key.destroy();
  }

  /** Summary without keys. */
  toJSON(): { kind: string; size: number } {
    return { kind: 'DataKeyCache', size: this.size };
  }

  /** Summary for `util.inspect`, without keys. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `[DataKeyCache size=${this.size}]`;
  }
}
