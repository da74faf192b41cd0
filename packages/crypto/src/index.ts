/**
 * `@palisade/crypto`: Palisade's key hierarchy (master key → per-tenant X-Wing KEK → data
 * keys), post-quantum key wrapping, AES-256-GCM field encryption bound to its context, blind
 * indexes, the KMS boundary, a data key cache, the TLS key-exchange groups the listeners
 * prefer and the rules a device's client certificate meets. Every export is named here.
 */

export { BLIND_INDEX_BYTES, blindIndex } from './aead/blind-index.ts';
export {
  decryptField,
  encryptField,
  FIELD_ALG_AES_256_GCM,
  FIELD_FORMAT_V1,
  type FieldCiphertextHeader,
  readFieldHeader,
} from './aead/field-cipher.ts';
export type { BlindIndexContext, FieldContext } from './aead/field-context.ts';
export { DataKeyCache, type DataKeyCacheOptions } from './cache/data-key-cache.ts';
export { CRYPTO_ERROR_CODES, CryptoError, type CryptoErrorCode, isCryptoError } from './errors.ts';
export {
  CONTEXT_STRING_MAX_BYTES,
  KEY_VERSION_MAX,
  timingSafeEqualBytes,
} from './internal/bytes.ts';
export {
  XWING_CIPHERTEXT_LENGTH,
  XWING_PUBLIC_KEY_LENGTH,
  XWING_SEED_LENGTH,
  XWING_SHARED_SECRET_LENGTH,
  type XWingEncapsulate,
  type XWingEncapsulation,
  XWingSecretKey,
  xwingEncapsulate,
} from './kem/xwing.ts';
export {
  BLIND_INDEX_KEY_LENGTH,
  BlindIndexKey,
  DATA_KEY_LENGTH,
  DataKey,
  KEY_ID_MAX_BYTES,
} from './keys/data-key.ts';
export { DataKeyring } from './keys/keyring.ts';
export { SecretKey } from './keys/secret-key.ts';
export {
  type LoadedMasterKey,
  type LoadMasterKeyOptions,
  loadMasterKey,
  MASTER_KEY_ENV,
} from './keystore/load-master-key.ts';
export { MASTER_KEY_ID_LENGTH, MASTER_KEY_LENGTH, MasterKey } from './keystore/master-key.ts';
export {
  PASSPHRASE_SALT_LENGTH,
  type PassphraseParams,
  SCRYPT_OWASP_PARAMS,
  type ScryptParams,
} from './keystore/passphrase.ts';
export { rotateMasterKey } from './keystore/rotate-master-key.ts';
export {
  createTenantKek,
  openTenantKek,
  TENANT_KEK_PURPOSE,
  type TenantKekRecord,
  tenantKekSealContext,
} from './keystore/tenant-kek.ts';
export type { Kms, SealContext } from './kms/kms.ts';
export {
  LocalKms,
  type LocalKmsOptions,
  readSealedHeader,
  SEAL_ALG_AES_256_GCM,
  SEALED_FORMAT_V1,
} from './kms/local-kms.ts';
export { HYBRID_GROUP, serverGroups } from './tls/key-exchange-groups.ts';
export {
  rewrapDataKey,
  unwrapDataKey,
  type WrapContext,
  type WrapOptions,
  wrapDataKey,
} from './wrap/key-wrap.ts';
export {
  readWrappedKeyHeader,
  WRAP_ALG_XWING_HKDF_SHA256_AES_256_GCM,
  WRAPPED_KEY_FORMAT_V1,
  type WrappedKeyHeader,
} from './wrap/wrapped-key-format.ts';
export {
  ACCEPTED_KEYS,
  acceptedKey,
  deviceCertificateRefusal,
  fingerprintOf,
  withinValidity,
} from './x509/device-certificate.ts';
