/**
 * Private keys of the device CAs Palisade generated for a tenant. The CA certificate is public
 * and lives in the control plane's index (one owner per CA); its private key lives only here,
 * in the tenant's own store, sealed under the tenant's key hierarchy, so crypto-shredding the
 * tenant destroys it with everything else.
 */

/** One generated CA's private key, sealed: never stored in plaintext. */
export interface DeviceCaKeyRow {
  /** The CA's id in the control plane's index. */
  readonly caId: string;
  /** A fresh data key for this CA alone, wrapped to the tenant's KEK. */
  readonly wrappedKey: Uint8Array;
  /** The PKCS#8 private key, AES-256-GCM under that data key, bound to tenant and CA. */
  readonly sealedKey: Uint8Array;
  readonly createdAt: string;
}

/** Generated CA keys in one tenant's store. */
export interface TenantDeviceCaReader {
  getCaKey(caId: string): Promise<DeviceCaKeyRow | undefined>;
  /** Ids of the tenant's generated CAs, newest first. */
  listCaKeyIds(): Promise<string[]>;
}

/** Writes inside the tenant's transaction; each one statement. */
export interface TenantDeviceCaWriter extends TenantDeviceCaReader {
  insertCaKey(row: DeviceCaKeyRow): Promise<void>;
  /** False when there was no key for that CA (it was uploaded, not generated). */
  deleteCaKey(caId: string): Promise<boolean>;
}
