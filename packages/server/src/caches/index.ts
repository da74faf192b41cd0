export {
  type CachedLookup,
  LookupCache,
  type LookupCacheOptions,
  setNewest,
} from './lookup-cache.ts';
