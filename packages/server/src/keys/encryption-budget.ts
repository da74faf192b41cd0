/**
 * How many encryptions a data key version may make. Field ciphertexts are AES-256-GCM with
 * random 96-bit nonces, which NIST SP 800-38D (§8.3) allows for at most 2^32 encryptions under
 * one key. Each version's count lives in the tenant's store. A process reserves encryptions
 * there a block at a time, in the transaction of the write that needs them (one UPDATE per
 * block, not per write), and spends the rest of the block from memory once that transaction
 * has committed. Reservations of several processes add up in the store; a crash forgets at most
 * the unspent part of a block, which only leaves the count above the truth. A transaction that
 * rolls back takes its reservation with it, and every ciphertext it made: none was stored.
 */
import { PalisadeError } from '../errors/index.ts';
import type { TenantWriteTx } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';

/** NIST SP 800-38D §8.3: random 96-bit IVs allow at most 2^32 GCM encryptions per key. */
export const GCM_RANDOM_IV_LIMIT = 2 ** 32;

export interface EncryptionBudgetOptions {
  /** The count at which a version should give way to a new one (`dataKeyRotateEncryptions`). */
  readonly rotateAt: number;
  /** Encryptions reserved at a time (`dataKeyEncryptionBlock`). */
  readonly block: number;
  /** Tenants whose unspent encryptions are remembered (the least recently credited go). */
  readonly maxTenants: number;
  /**
   * Told that `version` should give way: once a reservation that reached `rotateAt` has
   * committed, and when a reservation is refused at the limit. Must not throw.
   */
  readonly rotateDue: (tenant: Tenant, version: number) => void;
}

/** Per process: the encryptions reserved in the store and not yet spent, per tenant and version. */
export class EncryptionBudget {
  readonly #o: EncryptionBudgetOptions;
  readonly #unspent = new Map<string, Map<string, number>>();

  constructor(options: EncryptionBudgetOptions) {
    this.#o = options;
  }

  /**
   * Counts `count` encryptions about to be made under the version, reserving in `tx` what is
   * not in hand; PALISADE_KEY_ENCRYPTIONS_EXHAUSTED when that would pass GCM_RANDOM_IV_LIMIT.
   */
  async spend(
    tx: TenantWriteTx,
    tenant: Tenant,
    keyId: string,
    version: number,
    count: number,
  ): Promise<void> {
    const slot = `${keyId}/${version}`;
    const unspent = this.#unspent.get(tenant.id);
    const inHand = unspent?.get(slot) ?? 0;
    if (inHand >= count) {
      unspent!.set(slot, inHand - count);
      return;
    }
    unspent?.delete(slot);
    const needed = count - inHand;
    const block = Math.max(this.#o.block, needed);
    // Near the limit a whole block may not fit where what this write needs still does.
    let reserved = block;
    let total = await tx.keys.reserveEncryptions(keyId, version, block, GCM_RANDOM_IV_LIMIT);
    if (total === undefined && block > needed) {
      reserved = needed;
      total = await tx.keys.reserveEncryptions(keyId, version, needed, GCM_RANDOM_IV_LIMIT);
    }
    if (total === undefined) {
      this.#o.rotateDue(tenant, version);
      throw new PalisadeError(
        'PALISADE_KEY_ENCRYPTIONS_EXHAUSTED',
        `data key ${keyId} version ${version} may make no more encryptions (at most 2^32 with random nonces); a new version is starting, retry`,
      );
    }
    const reachedRotation = total >= this.#o.rotateAt;
    tx.afterCommit(() => {
      this.#credit(tenant.id, slot, reserved - needed);
      if (reachedRotation) this.#o.rotateDue(tenant, version);
    });
  }

  /** Forgets the tenant's unspent encryptions (they stay counted in the store). */
  drop(tenantId: string): void {
    this.#unspent.delete(tenantId);
  }

  clear(): void {
    this.#unspent.clear();
  }

  #credit(tenantId: string, slot: string, count: number): void {
    const unspent = this.#unspent.get(tenantId) ?? new Map<string, number>();
    unspent.set(slot, (unspent.get(slot) ?? 0) + count);
    this.#unspent.delete(tenantId);
    this.#unspent.set(tenantId, unspent);
    if (this.#unspent.size > this.#o.maxTenants)
      this.#unspent.delete(this.#unspent.keys().next().value!);
  }
}
