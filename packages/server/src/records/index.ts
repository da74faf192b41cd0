export {
  type CollectionDefinition,
  type CollectionReads,
  CollectionService,
  storeLocator,
  type TenantStoreLocator,
} from './collection-service.ts';
export {
  type CountReads,
  type ListingReads,
  readableKeyed,
  readableRows,
} from './readable-page.ts';
export {
  cursorPage,
  decodeCursor,
  decodeNameCursor,
  defaultPageLimit,
  encodeCursor,
  namePage,
  page,
} from './record-cursor.ts';
export { type RecordEncryption, redactEncrypted, storedState } from './record-encryption.ts';
export {
  type Precondition,
  type RawFilters,
  type RecordPage,
  RecordService,
  type WrittenRecord,
} from './record-service.ts';
export { SchemaRegistry } from './schema-registry.ts';
