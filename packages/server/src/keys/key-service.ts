/**
 * The tenant key hierarchy at run time: master key (in the `Kms`) → per-tenant X-Wing KEK
 * (control plane) → versioned data keys wrapped to the KEK's public key (tenant store).
 *
 * Unwrapped data keys live only in the bounded, expiring `DataKeyCache`, namespaced by
 * tenant; what the service hands out is used synchronously (see `withKeys`), so an evicted
 * key is never used. Every encryption under a field key version is counted before it is made
 * (see `EncryptionBudget`). Every key event is a ledger entry, written through the group commit.
 */

import type { BlindIndexKey } from '@palisade/crypto';
import {
  CryptoError,
  createTenantKek,
  DataKey,
  type DataKeyCache,
  DataKeyring,
  encryptField,
  type Kms,
  openTenantKek,
  unwrapDataKey,
  wrapDataKey,
} from '@palisade/crypto';
import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { MaybePromise } from '../maybe-promise/index.ts';
import type {
  ControlPlaneStore,
  DataKeyRow,
  ShardStore,
  TenantKekRow,
  TenantStore,
  TenantWriteTx,
} from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import { EncryptionBudget } from './encryption-budget.ts';
import { indexKeyContext, openIndexKey } from './record-cipher.ts';

/** Key id of the data keys that encrypt fields. */
export const FIELDS_KEY_ID = 'fields';
/** Key id of the data key that encrypts the tenant's blind-index key. */
export const BLIND_INDEX_KEY_ID = 'blind-index';
/** Attempts to gather every needed key from the cache in one synchronous turn. */
const GATHER_ATTEMPTS = 4;

/** Field keys for one synchronous operation: never keep them past it. */
export interface FieldKeysInHand {
  /** Every requested field key version; `current` is the newest the tenant has. */
  readonly ring: DataKeyring;
  readonly current: DataKey;
}

/** Field keys and the blind-index key for one synchronous operation. */
export interface KeysInHand extends FieldKeysInHand {
  /** The blind-index key, opened lazily and cached with the data key that wraps it. */
  indexKey(): BlindIndexKey;
}

export interface KeyServiceOptions {
  readonly kms: Kms;
  readonly controlPlane: ControlPlaneStore;
  readonly shards: ReadonlyMap<string, ShardStore>;
  readonly committer: GroupCommitter;
  readonly cache: DataKeyCache;
  /** How long the (non-secret) list of a tenant's data key versions is trusted. */
  readonly metaTtlMs: number;
  /** Bound of that list's cache. */
  readonly metaMax: number;
  /** A field key version's count at which it should give way (`dataKeyRotateEncryptions`). */
  readonly rotateAt: number;
  /** Encryptions reserved in the store at a time (`dataKeyEncryptionBlock`). */
  readonly encryptionBlock: number;
  /**
   * Told that a field key version should give way to a new one (its count reached `rotateAt`,
   * or the limit refused an encryption). Must not throw.
   */
  readonly rotateDue: (tenant: Tenant, version: number) => void;
}

interface KeyMeta {
  readonly rows: readonly DataKeyRow[];
  readonly at: number;
}

/** Per-tenant KEKs and data keys: provisioning, unwrapping, rotation, shredding. */
export class KeyService {
  readonly #o: KeyServiceOptions;
  readonly #meta = new Map<string, KeyMeta>();
  /**
   * Opened blind-index keys, per tenant: opening one costs an AES-GCM decryption and a new
   * HMAC key object, which on every write was a third of an encrypted create. An entry lives
   * as long as the cached data key that wraps it (same bound and time limit), is bounded like
   * the metadata, and is destroyed on eviction and when the tenant's keys are forgotten or
   * shredded.
   */
  readonly #indexKeys = new Map<
    string,
    { readonly wrapKey: DataKey; readonly key: BlindIndexKey }
  >();
  /** Tenants shredded while this process ran (here or, told so, in another process). */
  readonly #shredded = new Set<string>();
  readonly #budget: EncryptionBudget;

  constructor(options: KeyServiceOptions) {
    this.#o = options;
    this.#budget = new EncryptionBudget({
      rotateAt: options.rotateAt,
      block: options.encryptionBlock,
      maxTenants: options.metaMax,
      rotateDue: options.rotateDue,
    });
  }

  /** Public id of the master key that seals now (safe to log). */
  get masterKeyId(): string {
    return this.#o.kms.keyId;
  }

  async store(tenant: Tenant): Promise<TenantStore> {
    const shard = this.#o.shards.get(tenant.shard);
    if (shard === undefined)
      throw new PalisadeError('PALISADE_INTERNAL', `shard ${tenant.shard} is not open`);
    return shard.tenant(tenant.id);
  }

  /** Creates the tenant's KEK and first data keys unless they exist. Idempotent. */
  async provision(tenant: Tenant, actor = 'platform'): Promise<void> {
    this.#refuseShredded(tenant.id);
    const kek = await this.#latestKek(tenant.id, true);
    const store = await this.store(tenant);
    await this.#o.committer.submit(store, async (tx, record) => {
      if ((await tx.keys.listDataKeys()).length > 0) return;
      const now = new Date().toISOString();
      const fields = DataKey.generate(FIELDS_KEY_ID, 1);
      const blind = DataKey.generate(BLIND_INDEX_KEY_ID, 1);
      try {
        const wrap = (key: DataKey) =>
          wrapDataKey(kek.publicKey, key, { tenantId: tenant.id, kekVersion: kek.version });
        const secret = this.#indexSecret(tenant.id, blind);
        const row = (key: DataKey, sealedSecret: Uint8Array | null): DataKeyRow => ({
          keyId: key.keyId,
          version: key.version,
          kekVersion: kek.version,
          wrapped: wrap(key),
          sealedSecret,
          state: 'active',
          // The blind-index key encrypts its secret, once.
          encryptions: sealedSecret === null ? 0 : 1,
          createdAt: now,
          retiredAt: null,
        });
        await tx.keys.insertDataKey(row(fields, null));
        await tx.keys.insertDataKey(row(blind, secret));
      } finally {
        fields.destroy();
        blind.destroy();
      }
      record({
        actor,
        action: 'keys.create',
        resource: 'keys',
        state: {
          kekVersion: kek.version,
          keys: [
            { keyId: FIELDS_KEY_ID, version: 1 },
            { keyId: BLIND_INDEX_KEY_ID, version: 1 },
          ],
        },
      });
    });
    this.forget(tenant.id);
  }

  /** 32 fresh random bytes (the blind-index key), encrypted under the blind-index data key. */
  #indexSecret(tenantId: string, blind: DataKey): Uint8Array {
    const bytes = new Uint8Array(32);
    crypto.getRandomValues(bytes);
    try {
      return encryptField(blind, indexKeyContext(tenantId), bytes);
    } finally {
      bytes.fill(0);
    }
  }

  async #latestKek(tenantId: string, create: boolean): Promise<TenantKekRow> {
    let keks = await this.#o.controlPlane.keys.listKeks(tenantId);
    if (keks.length === 0 && create) {
      const { record, secretKey } = await createTenantKek(this.#o.kms, tenantId, 1);
      secretKey.destroy();
      // Not inserted when another request provisioned it first: theirs is used.
      await this.#o.controlPlane.keys.insertKek({ ...record, createdAt: new Date().toISOString() });
      keks = await this.#o.controlPlane.keys.listKeks(tenantId);
    }
    const latest = keks.at(-1);
    if (latest === undefined) throw keysUnavailable(tenantId);
    return latest;
  }

  /**
   * Crypto-shredding, step one: destroys the tenant's KEK records (so every copy of its
   * wrapped data keys, and of its encrypted fields, is unreadable) and drops cached keys.
   * Other processes drop theirs when told (see {@link dropShredded}).
   */
  async shred(tenant: Tenant): Promise<void> {
    try {
      await this.#o.controlPlane.keys.deleteKeks(tenant.id);
    } finally {
      this.dropShredded(tenant.id);
    }
  }

  /**
   * Destroys the cached keys of a shredded tenant and refuses to load or provision its keys
   * from now on: a process whose tenant cache still shows it active would otherwise make it
   * a new KEK.
   */
  dropShredded(tenantId: string): void {
    this.#shredded.add(tenantId);
    this.forget(tenantId);
  }

  /**
   * Destroys every cached key and key list: a shredding notice may have been missed (while
   * disconnected from the other processes), and what is dropped is unwrapped again on demand.
   */
  forgetAll(): void {
    this.#o.cache.clear();
    this.#meta.clear();
    this.#budget.clear();
    for (const entry of this.#indexKeys.values()) entry.key.destroy();
    this.#indexKeys.clear();
  }

  #refuseShredded(tenantId: string): void {
    if (this.#shredded.has(tenantId)) throw keysUnavailable(tenantId, 'shredded');
  }

  /**
   * Destroys the tenant's cached keys and drops the cached list of its key versions (after a
   * rotation or a retirement, once committed): a retired version's key must not stay usable in
   * memory once its wrapped form is erased. What is still active is unwrapped again on demand.
   */
  forget(tenantId: string): void {
    this.#o.cache.deleteTenant(tenantId);
    this.#meta.delete(tenantId);
    this.#budget.drop(tenantId);
    this.#indexKeys.get(tenantId)?.key.destroy();
    this.#indexKeys.delete(tenantId);
  }

  #freshRows(tenantId: string): readonly DataKeyRow[] | undefined {
    const cached = this.#meta.get(tenantId);
    return cached !== undefined && Date.now() - cached.at < this.#o.metaTtlMs
      ? cached.rows
      : undefined;
  }

  /** The tenant's data key rows, from a short-lived cache. */
  async dataKeys(tenant: Tenant, fresh = false): Promise<readonly DataKeyRow[]> {
    this.#refuseShredded(tenant.id);
    const cached = fresh ? undefined : this.#freshRows(tenant.id);
    if (cached !== undefined) return cached;
    let rows = await (await this.store(tenant)).reader.keys.listDataKeys();
    if (rows.length === 0) {
      await this.provision(tenant);
      rows = await (await this.store(tenant)).reader.keys.listDataKeys();
    }
    this.#meta.delete(tenant.id);
    this.#meta.set(tenant.id, { rows, at: Date.now() });
    if (this.#meta.size > this.#o.metaMax) this.#meta.delete(this.#meta.keys().next().value!);
    return rows;
  }

  async #unwrap(tenant: Tenant, row: DataKeyRow): Promise<DataKey> {
    this.#refuseShredded(tenant.id);
    if (row.state !== 'active' || row.wrapped === null) {
      throw new PalisadeError(
        'PALISADE_DECRYPTION_FAILED',
        `data key ${row.keyId} version ${row.version} is retired`,
      );
    }
    const keks = await this.#o.controlPlane.keys.listKeks(tenant.id);
    const kekRow = keks.find((k) => k.version === row.kekVersion);
    if (kekRow === undefined) throw keysUnavailable(tenant.id);
    try {
      const kek = await openTenantKek(this.#o.kms, kekRow);
      try {
        return unwrapDataKey(kek, { tenantId: tenant.id, kekVersion: kekRow.version }, row.wrapped);
      } finally {
        kek.destroy();
      }
    } catch (error) {
      if (error instanceof CryptoError) throw keysUnavailable(tenant.id, error.code);
      throw error;
    }
  }

  #indexKey(tenantId: string, row: DataKeyRow, wrapKey: DataKey): BlindIndexKey {
    const cached = this.#indexKeys.get(tenantId);
    if (cached !== undefined && cached.wrapKey === wrapKey && !cached.key.destroyed)
      return cached.key;
    cached?.key.destroy();
    const key = openIndexKey(tenantId, wrapKey, row.sealedSecret!);
    this.#indexKeys.delete(tenantId);
    this.#indexKeys.set(tenantId, { wrapKey, key });
    if (this.#indexKeys.size > this.#o.metaMax) {
      const [oldest, entry] = this.#indexKeys.entries().next().value!;
      entry.key.destroy();
      this.#indexKeys.delete(oldest);
    }
    return key;
  }

  /**
   * Runs `work` synchronously with the field keys of `versions` (plus the newest) and the
   * blind-index key in hand. Keys are loaded (unwrapped on a cache miss) first, then taken
   * from the cache in one turn. A write that seals passes its transaction, `sealing`: the
   * newest version is then one the transaction holds active (the cached list may predate a
   * retirement), and one encryption under it is counted, which `work` may make.
   */
  withKeys<T>(
    tenant: Tenant,
    versions: Iterable<number>,
    work: (keys: KeysInHand) => T,
    sealing?: TenantWriteTx,
  ): MaybePromise<T> {
    return this.#gather(tenant, versions, true, sealing, (keys, current, blindRow) => {
      const blindKey = keys.pop()!;
      const ring = new DataKeyring(keys);
      return work({
        ring,
        current: ring.get(current.version),
        indexKey: () => this.#indexKey(tenant.id, blindRow, blindKey),
      });
    });
  }

  /** As {@link withKeys}, without gathering the blind-index key (reads and re-encryption). */
  withFieldKeys<T>(
    tenant: Tenant,
    versions: Iterable<number>,
    work: (keys: FieldKeysInHand) => T,
  ): MaybePromise<T> {
    return this.#gather(tenant, versions, false, undefined, (keys, current) => {
      const ring = new DataKeyring(keys);
      return work({ ring, current: ring.get(current.version) });
    });
  }

  /**
   * Counts `count` encryptions about to be made under field key `version` in `tx` (a
   * re-encryption job's batch); PALISADE_KEY_ENCRYPTIONS_EXHAUSTED when the version may not
   * make them.
   */
  spendEncryptions(
    tx: TenantWriteTx,
    tenant: Tenant,
    version: number,
    count: number,
  ): Promise<void> {
    return this.#budget.spend(tx, tenant, FIELDS_KEY_ID, version, count);
  }

  /**
   * Calls `work` with the cached keys of the field rows of `versions` and the newest, then
   * the blind-index key when `withIndex`, all taken in the turn `work` runs in. When nothing
   * has to be loaded, held or counted (a read with every key cached) that is this turn: no
   * promise.
   */
  #gather<T>(
    tenant: Tenant,
    versions: Iterable<number>,
    withIndex: boolean,
    sealing: TenantWriteTx | undefined,
    work: (keys: DataKey[], current: DataKeyRow, blindRow: DataKeyRow) => T,
  ): MaybePromise<T> {
    const rows = sealing === undefined ? this.#freshRows(tenant.id) : undefined;
    const chosen = rows && chooseRows(tenant.id, rows, versions, withIndex);
    const inHand = chosen && this.#cached(tenant.id, chosen.needed);
    if (chosen && inHand) return work(inHand, chosen.current, chosen.blindRow);
    return this.#gatherLoading(tenant, versions, withIndex, sealing, work);
  }

  async #gatherLoading<T>(
    tenant: Tenant,
    versions: Iterable<number>,
    withIndex: boolean,
    sealing: TenantWriteTx | undefined,
    work: (keys: DataKey[], current: DataKeyRow, blindRow: DataKeyRow) => T,
  ): Promise<T> {
    for (let attempt = 0; attempt < GATHER_ATTEMPTS; attempt++) {
      const rows =
        (attempt === 0 && this.#freshRows(tenant.id)) || (await this.dataKeys(tenant, attempt > 0));
      const chosen = chooseRows(tenant.id, rows, versions, withIndex);
      if (chosen === undefined) continue;
      const { needed, current, blindRow } = chosen;
      if (sealing !== undefined) {
        if (!(await sealing.keys.holdActiveDataKey(current.keyId, current.version))) continue;
        await this.#budget.spend(sealing, tenant, current.keyId, current.version, 1);
      }
      let inHand = this.#cached(tenant.id, needed);
      // Awaiting only what is missing keeps the common case (every key cached) in one turn.
      if (inHand === undefined) {
        for (const row of needed) {
          await this.#o.cache.getOrLoad(tenant.id, row.keyId, row.version, () =>
            this.#unwrap(tenant, row),
          );
        }
        this.#dropOrphanedIndexKeys();
        inHand = this.#cached(tenant.id, needed);
        if (inHand === undefined) continue;
      }
      return work(inHand, current, blindRow);
    }
    throw new PalisadeError(
      'PALISADE_DECRYPTION_FAILED',
      'a record names a data key version this tenant does not have',
    );
  }

  /**
   * Destroys every expired key now, the blind-index keys they wrap included. The cache expires
   * keys as it is used; this is for a process that has gone idle, so that no key outlives its
   * time limit by more than the interval between sweeps.
   */
  sweep(): void {
    this.#o.cache.prune();
    this.#dropOrphanedIndexKeys();
  }

  /**
   * Destroys the blind-index keys whose wrapping data key the cache has destroyed (expired or
   * evicted), which it does as keys are loaded: an idle tenant's index key goes with it.
   */
  #dropOrphanedIndexKeys(): void {
    for (const [tenantId, entry] of this.#indexKeys) {
      if (!entry.wrapKey.destroyed) continue;
      entry.key.destroy();
      this.#indexKeys.delete(tenantId);
    }
  }

  /** The keys of `rows` from the cache, or undefined when any is missing. */
  #cached(tenantId: string, rows: readonly DataKeyRow[]): DataKey[] | undefined {
    const keys: DataKey[] = [];
    for (const row of rows) {
      const key = this.#o.cache.get(tenantId, row.keyId, row.version);
      if (key === undefined) return undefined;
      keys.push(key);
    }
    return keys;
  }
}

/**
 * The rows a gathering needs: the newest active field key, those of `versions`, then the
 * blind-index key's when `withIndex`. Undefined when a version is not listed (the list may
 * be stale); throws when the tenant has no usable field or blind-index key at all.
 */
function chooseRows(
  tenantId: string,
  rows: readonly DataKeyRow[],
  versions: Iterable<number>,
  withIndex: boolean,
): { needed: DataKeyRow[]; current: DataKeyRow; blindRow: DataKeyRow } | undefined {
  let current: DataKeyRow | undefined;
  let blindRow: DataKeyRow | undefined;
  for (const row of rows) {
    if (row.keyId === FIELDS_KEY_ID && row.state === 'active') current = row;
    else if (row.keyId === BLIND_INDEX_KEY_ID) blindRow ??= row;
  }
  if (current === undefined || blindRow === undefined) throw keysUnavailable(tenantId);
  const needed = [current];
  for (const version of versions) {
    if (needed.some((r) => r.version === version)) continue;
    const row = rows.find((r) => r.keyId === FIELDS_KEY_ID && r.version === version);
    if (row === undefined) return undefined;
    needed.push(row);
  }
  if (withIndex) needed.push(blindRow);
  return { needed, current, blindRow };
}

function keysUnavailable(tenantId: string, why?: string): PalisadeError {
  return new PalisadeError(
    'PALISADE_KEYS_UNAVAILABLE',
    `the encryption keys of tenant ${tenantId} cannot be opened${why === undefined ? '' : ` (${why})`}`,
  );
}
