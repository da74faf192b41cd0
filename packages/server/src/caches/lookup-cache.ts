/**
 * Lookups of secrets by their hash, cached for a while, with what was found and what was not
 * kept under separate bounds. Unknown keys cost an attacker nothing to make, so a flood of
 * them may only push out other unknown keys: the entries of real credentials, which nobody
 * can make up, stay, and real requests keep being answered without asking the store.
 */
export interface LookupCacheOptions {
  /** How long an entry is trusted. */
  readonly ttlMs: number;
  /** Most entries of found values; beyond it the oldest is dropped (looked up again on use). */
  readonly foundMax: number;
  /** Most entries of keys found to be unknown; beyond it the oldest is dropped. */
  readonly missingMax: number;
}

/** A cached lookup: `value` undefined when the key was found to be unknown. */
export interface CachedLookup<V> {
  readonly value: V | undefined;
}

interface Entry<V> {
  readonly value: V;
  readonly expires: number;
}

export class LookupCache<V> {
  readonly #options: LookupCacheOptions;
  readonly #found = new Map<string, Entry<V>>();
  /** Unknown keys, and until when they are known to be unknown. */
  readonly #missing = new Map<string, number>();

  constructor(options: LookupCacheOptions) {
    this.#options = options;
  }

  /** The cached lookup of `key` at `now`, or undefined when it must be looked up. */
  get(key: string, now: number): CachedLookup<V> | undefined {
    const found = this.#found.get(key);
    if (found !== undefined) return found.expires > now ? found : undefined;
    const missing = this.#missing.get(key);
    return missing !== undefined && missing > now ? { value: undefined } : undefined;
  }

  /** Records what a lookup made at `startedAt` found (undefined: nothing). */
  set(key: string, value: V | undefined, startedAt: number): void {
    const expires = startedAt + this.#options.ttlMs;
    if (value === undefined) {
      this.#found.delete(key);
      setNewest(this.#missing, key, expires, this.#options.missingMax);
    } else {
      this.#missing.delete(key);
      setNewest(this.#found, key, { value, expires }, this.#options.foundMax);
    }
  }

  /** Drops the found entries `drop` picks (a deleted tenant's, say). */
  dropFound(drop: (value: V) => boolean): void {
    for (const [key, entry] of this.#found) if (drop(entry.value)) this.#found.delete(key);
  }

  /** Forgets `key`, found or unknown. */
  delete(key: string): void {
    this.#found.delete(key);
    this.#missing.delete(key);
  }

  /** Forgets every key found to be unknown (one may have been made since). */
  clearMissing(): void {
    this.#missing.clear();
  }

  clear(): void {
    this.#found.clear();
    this.#missing.clear();
  }

  /** Entries held now: found, and known unknown. */
  get sizes(): { readonly found: number; readonly missing: number } {
    return { found: this.#found.size, missing: this.#missing.size };
  }
}

/** Sets `key` as the newest entry of `map`, dropping the oldest beyond `max`. */
export function setNewest<T>(map: Map<string, T>, key: string, value: T, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}
