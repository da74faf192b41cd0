export { type CachedLookup, LookupCache, type LookupCacheOptions } from './lookup-cache.ts';
