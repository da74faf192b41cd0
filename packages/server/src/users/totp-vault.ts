/**
 * TOTP secrets at rest. Each user's secret is encrypted (AES-256-GCM, bound to tenant, user
 * and field) under its own data key, which is wrapped to the tenant's X-Wing KEK like every
 * other data key. The tenant's field keys are not used: their rotation retires old versions
 * once no record needs them, and would strand secrets that only a sign-in reads. Shredding
 * the tenant's KEK makes every secret unreadable, as it does the tenant's records.
 */
import {
  DataKey,
  decryptField,
  encryptField,
  type Kms,
  openTenantKek,
  readWrappedKeyHeader,
  unwrapDataKey,
  wrapDataKey,
} from '@palisade/crypto';
import { PalisadeError } from '../errors/index.ts';
import type { KeyService } from '../keys/index.ts';
import type { ControlPlaneStore, SealedTotp } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';

const placeOf = (tenant: Tenant, userId: string) => ({
  tenantId: tenant.id,
  collection: 'palisade.users',
  recordId: userId,
  field: 'totp',
});

export class TotpVault {
  readonly #kms: Kms;
  readonly #controlPlane: ControlPlaneStore;
  readonly #keys: KeyService;

  constructor(options: { kms: Kms; controlPlane: ControlPlaneStore; keys: KeyService }) {
    this.#kms = options.kms;
    this.#controlPlane = options.controlPlane;
    this.#keys = options.keys;
  }

  async seal(tenant: Tenant, userId: string, secret: Uint8Array): Promise<SealedTotp> {
    await this.#keys.dataKeys(tenant);
    const kek = (await this.#controlPlane.keys.listKeks(tenant.id)).at(-1);
    if (kek === undefined) throw keysUnavailable(tenant);
    const key = DataKey.generate(`totp:${userId}`, 1);
    try {
      return {
        wrappedKey: wrapDataKey(kek.publicKey, key, {
          tenantId: tenant.id,
          kekVersion: kek.version,
        }),
        secret: encryptField(key, placeOf(tenant, userId), secret),
      };
    } finally {
      key.destroy();
    }
  }

  async open(tenant: Tenant, userId: string, sealed: SealedTotp): Promise<Uint8Array> {
    const { kekVersion, keyId } = readWrappedKeyHeader(sealed.wrappedKey);
    if (keyId !== `totp:${userId}`) throw keysUnavailable(tenant);
    const row = (await this.#controlPlane.keys.listKeks(tenant.id)).find(
      (k) => k.version === kekVersion,
    );
    if (row === undefined) throw keysUnavailable(tenant);
    const kek = await openTenantKek(this.#kms, row);
    let key: DataKey | undefined;
    try {
      key = unwrapDataKey(kek, { tenantId: tenant.id, kekVersion }, sealed.wrappedKey);
      return decryptField(key, placeOf(tenant, userId), sealed.secret);
    } finally {
      key?.destroy();
      kek.destroy();
    }
  }
}

function keysUnavailable(tenant: Tenant): PalisadeError {
  return new PalisadeError(
    'PALISADE_KEYS_UNAVAILABLE',
    `the TOTP secret of a user of tenant ${tenant.slug} cannot be opened`,
  );
}
