/**
 * Sealing a tenant's long-lived secrets (a generated device CA's private key) under the
 * tenant key hierarchy: each secret gets its own data key, wrapped to the tenant's X-Wing KEK,
 * and is AES-256-GCM-encrypted bound to (tenant, kind, id). Not the record field keys: those
 * rotate and their old versions are retired once no record uses them, which would strand a
 * secret sealed under one. Destroying the tenant's KEKs (crypto-shredding) makes every sealed
 * secret unreadable, wherever a copy went.
 */
import {
  CryptoError,
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
import type { ControlPlaneStore } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import type { KeyService } from './key-service.ts';

/** Key id of the per-secret data keys (bound into each wrap). */
const SECRET_KEY_ID = 'secret';

/** What a sealed secret is and which one: bound to its ciphertext, so it cannot be swapped. */
export interface SecretPlace {
  /** e.g. `device-ca`. */
  readonly kind: string;
  readonly id: string;
}

/** A sealed secret: its own data key wrapped to the KEK, and the ciphertext under that key. */
export interface SealedSecret {
  readonly wrappedKey: Uint8Array;
  readonly sealed: Uint8Array;
}

export interface TenantSecretSealOptions {
  readonly kms: Kms;
  readonly controlPlane: ControlPlaneStore;
  /** Provisions the tenant's KEK on first use. */
  readonly keys: KeyService;
}

function fieldContext(tenant: Tenant, place: SecretPlace) {
  return {
    tenantId: tenant.id,
    collection: 'palisade.secrets',
    recordId: `${place.kind}/${place.id}`,
    field: 'secret',
  };
}

function keysUnavailable(tenant: Tenant, why?: string): PalisadeError {
  return new PalisadeError(
    'PALISADE_KEYS_UNAVAILABLE',
    `the encryption keys of tenant ${tenant.id} cannot be opened${why === undefined ? '' : ` (${why})`}`,
  );
}

/** Seals and opens tenant secrets with the tenant's KEK. */
export class TenantSecretSeal {
  readonly #o: TenantSecretSealOptions;

  constructor(options: TenantSecretSealOptions) {
    this.#o = options;
  }

  async seal(tenant: Tenant, place: SecretPlace, secret: Uint8Array): Promise<SealedSecret> {
    await this.#o.keys.dataKeys(tenant);
    const kek = (await this.#o.controlPlane.keys.listKeks(tenant.id)).at(-1);
    if (kek === undefined) throw keysUnavailable(tenant);
    const key = DataKey.generate(SECRET_KEY_ID, 1);
    try {
      return {
        wrappedKey: wrapDataKey(kek.publicKey, key, {
          tenantId: tenant.id,
          kekVersion: kek.version,
        }),
        sealed: encryptField(key, fieldContext(tenant, place), secret),
      };
    } finally {
      key.destroy();
    }
  }

  /** The secret's bytes: zero them once used. */
  async open(tenant: Tenant, place: SecretPlace, secret: SealedSecret): Promise<Uint8Array> {
    try {
      const { kekVersion } = readWrappedKeyHeader(secret.wrappedKey);
      const keks = await this.#o.controlPlane.keys.listKeks(tenant.id);
      const kekRow = keks.find((k) => k.version === kekVersion);
      if (kekRow === undefined) throw keysUnavailable(tenant);
      const kek = await openTenantKek(this.#o.kms, kekRow);
      let key: DataKey;
      try {
        key = unwrapDataKey(kek, { tenantId: tenant.id, kekVersion }, secret.wrappedKey);
      } finally {
        kek.destroy();
      }
      try {
        return decryptField(key, fieldContext(tenant, place), secret.sealed);
      } finally {
        key.destroy();
      }
    } catch (error) {
      if (error instanceof CryptoError) throw keysUnavailable(tenant, error.code);
      throw error;
    }
  }
}
