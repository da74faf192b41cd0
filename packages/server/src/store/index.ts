export { openStores, type Stores } from './open-stores.ts';
export type {
  PlatformCheckpointRow,
  PlatformLogStore,
  PlatformSeal,
  SealedTenantCheckpoint,
} from './platform-log-store.ts';
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
