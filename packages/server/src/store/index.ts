export { openStores, type Stores } from './open-stores.ts';
export type {
  ApiKeyRow,
  CollectionRow,
  ConditionalWrite,
  ControlPlaneStore,
  FieldFilter,
  PageQuery,
  RecordQuery,
  RecordRow,
  ShardRow,
  ShardStore,
  StoredCredential,
  TenantReader,
  TenantStore,
  TenantWriteTx,
} from './types.ts';
