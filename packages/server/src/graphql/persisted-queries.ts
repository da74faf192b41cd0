import { createHash } from 'node:crypto';
import type { TenantContext } from '../tenancy/index.ts';
import { Lru } from './lru.ts';

/**
 * Automatic persisted queries (the Apollo protocol): a client sends only the SHA-256 of its
 * query; the first time, the server answers PersistedQueryNotFound and the client sends the
 * query with its hash, which the server checks and keeps. Entries are kept per tenant — one
 * tenant can neither run nor detect what another has sent — in one LRU bounded for all
 * tenants (`graphqlPersistedQueriesMax`), in memory only: a restart or another instance
 * just costs clients one more round trip.
 */
export class PersistedQueries {
  readonly #queries: Lru<string>;

  constructor(max: number) {
    this.#queries = new Lru(max);
  }

  static hashOf(query: string): string {
    return createHash('sha256').update(query, 'utf8').digest('hex');
  }

  get(tenant: TenantContext, hash: string): string | undefined {
    return this.#queries.get(`${tenant.tenantId}:${hash}`);
  }

  /** Keeps a query whose hash the caller has checked. */
  set(tenant: TenantContext, hash: string, query: string): void {
    this.#queries.set(`${tenant.tenantId}:${hash}`, query);
  }
}
