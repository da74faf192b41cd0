export { type KeyJobView, KeyRotation, type KeyStatus } from './key-rotation.ts';
export {
  BLIND_INDEX_KEY_ID,
  FIELDS_KEY_ID,
  type FieldKeysInHand,
  KeyService,
  type KeysInHand,
} from './key-service.ts';
export { masterKeyFile, openPlatformKms } from './master-key-source.ts';
export { type MasterRotationResult, rotatePlatformMasterKey } from './master-rotation.ts';
export { RecordKeys } from './record-keys.ts';
export {
  type SealedSecret,
  type SecretPlace,
  TenantSecretSeal,
} from './tenant-secret-seal.ts';
