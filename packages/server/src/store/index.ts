export type {
  PolicySetRow,
  RoleRow,
  TenantAuthzReader,
  TenantAuthzWriter,
} from './authz-types.ts';
export type { ControlPlaneCorsStore } from './cors-types.ts';
export type {
  DeviceCaKeyRow,
  TenantDeviceCaReader,
  TenantDeviceCaWriter,
} from './device-ca-types.ts';
export type {
  Aggregate,
  AggregateQuery,
  AggregateRow,
  ControlPlaneDeviceIndex,
  DeviceCredentialKind,
  DeviceCredentialMatch,
  DeviceCredentialRow,
  DeviceRow,
  EdgeStanding,
  PointType,
  RpcChange,
  RpcRow,
  RpcStatus,
  TelemetryPoint,
  TelemetryQuery,
  TenantCaRow,
  TenantDeviceReader,
  TenantDeviceWriter,
} from './device-types.ts';
export type { DpopProofStore } from './dpop-proof-types.ts';
export type {
  EdgeRuleSetRow,
  TenantEdgeRuleReader,
  TenantEdgeRuleWriter,
} from './edge-rule-types.ts';
export {
  EDGE_ALERT_KINDS,
  type EdgeAlertKind,
  type EdgeAlertRow,
  type EdgeBatchRow,
  type EdgeEnrollmentTokenRow,
  type EdgeNodeRow,
  type EdgeNodeStatus,
  type EdgeSignatures,
  type TenantEdgeReader,
  type TenantEdgeWriter,
} from './edge-types.ts';
export type {
  ControlPlaneIdentityStore,
  IssuerKeyRow,
  OAuthClientRow,
  OidcArtifact,
  RevocationKind,
  RevocationRow,
} from './identity-types.ts';
export type {
  DataKeyRow,
  KeyJobRow,
  SealedFields,
  TenantKekRow,
  TenantKeyWriter,
} from './key-types.ts';
export { openStores, type Stores } from './open-stores.ts';
export type {
  LedgerKeyChange,
  PlatformCheckpointRow,
  PlatformLogStore,
  PlatformSeal,
  SealedTenantCheckpoint,
} from './platform-log-store.ts';
export type { PartitionFailure, TelemetryWindow } from './postgres/telemetry-partitions.ts';
export { acquireRunningLock, type RunningLock, type RunningLockMode } from './running-lock.ts';
export {
  BackupError,
  type BackupErrorCode,
  type BackupManifest,
} from './sqlite/backup-manifest.ts';
export { type BackupProgress, backupPlatform } from './sqlite/platform-backup.ts';
export { refuseHalfRestored, restorePlatform } from './sqlite/platform-restore.ts';
export {
  JSON_DEPTH_MAX,
  mayBeUnstorable,
  type Unstorable,
  unstorable,
  unstorableJson,
} from './storable-json.ts';
export { mergeStoredObjects, StoredJsonRecord, storedJson } from './stored-json.ts';
export type {
  ApiKeyRow,
  CollectionRow,
  ConditionalWrite,
  ControlPlaneStore,
  FieldFilter,
  LedgerBatchRow,
  LedgerBatchWrite,
  LedgerEntryRow,
  LedgerHead,
  PageQuery,
  RecordQuery,
  RecordRow,
  ShardRow,
  ShardStore,
  StoredCredential,
  TenantLedgerReader,
  TenantReader,
  TenantStore,
  TenantWriteTx,
} from './types.ts';
export type {
  SealedTotp,
  SignInFailureRow,
  TenantUserReader,
  TenantUserWriter,
  UserInvitationRow,
  UserRow,
} from './user-types.ts';
