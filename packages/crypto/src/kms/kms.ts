/**
 * The KMS boundary: whatever owns the root key seals small secrets (tenant KEK seeds) bound to
 * a context and opens them again. `LocalKms` implements it with the master key in process;
 * an external KMS (cloud KMS, HSM, Vault transit) can implement the same interface, mapping
 * the context to its own "encryption context" / associated data.
 */
import { CryptoError } from '../errors.ts';
import { ByteWriter, contextString, keyVersion } from '../internal/bytes.ts';

/** What a sealed secret is bound to; opening with any other context fails. */
export interface SealContext {
  /** What the secret is, e.g. `palisade/tenant-kek`. */
  readonly purpose: string;
  /** The tenant that owns it. */
  readonly tenantId: string;
  /** The secret's own version (e.g. the KEK version). */
  readonly keyVersion: number;
  /** Extra bytes to bind (at most 255), e.g. a digest of the matching public key. */
  readonly binding?: Uint8Array;
}

/** Seals and opens secrets under a root key it never reveals. */
export interface Kms {
  /** Public id of the key that seals now (safe to log). */
  readonly keyId: string;
  /** Encrypts `plaintext` bound to `context`. */
  seal(context: SealContext, plaintext: Uint8Array): Promise<Uint8Array>;
  /**
   * Decrypts a value sealed by this KMS (under its current or a previous root key) with the
   * same context; otherwise throws a `CryptoError`.
   */
  open(context: SealContext, sealed: Uint8Array): Promise<Uint8Array>;
  /** True when `sealed` is already sealed under the current root key (rotation skips it). */
  isCurrent(sealed: Uint8Array): boolean;
  /**
   * HMAC-SHA256 of `data` under a key derived from the current root key for `label` alone
   * (the server's service tokens use `palisade/service-token/v1`). The key never leaves the KMS.
   */
  mac(label: string, data: Uint8Array): Promise<Uint8Array>;
}

/** lp(purpose) ‖ lp(tenantId) ‖ u32(keyVersion) ‖ lp(binding or empty). */
export function encodeSealContext(context: SealContext): Buffer {
  const binding = context?.binding ?? new Uint8Array(0);
  if (!(binding instanceof Uint8Array) || binding.length > 255) {
    throw new CryptoError(
      'CRYPTO_BAD_CONTEXT',
      'binding must be a Uint8Array of at most 255 bytes',
    );
  }
  return new ByteWriter()
    .shortBytes(contextString('purpose', context?.purpose))
    .shortBytes(contextString('tenantId', context.tenantId))
    .u32(keyVersion('keyVersion', context.keyVersion))
    .shortBytes(binding)
    .finish();
}
