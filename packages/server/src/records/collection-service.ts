import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { ObjectCaps } from '../quotas/index.ts';
import type { CollectionRow, ShardStore, TenantStore, TenantWriteTx } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { type CountReads, readableKeyed } from './readable-page.ts';
import type { SchemaRegistry } from './schema-registry.ts';

/**
 * Collections read from the store at a time while listing or counting those a caller may
 * read: each holds its schema, up to bodyLimit bytes, and a tenant may hold any number.
 */
const COLLECTION_PAGE = 100;

/** Whether the caller may read every record of a collection (Authorizer.recordReads). */
export interface CollectionReads {
  every(collection: string): boolean;
}

export interface CollectionDefinition {
  readonly schema: Record<string, unknown>;
  readonly encrypted: readonly string[];
}

/** Locates a tenant's store from its verified context. */
export type TenantStoreLocator = (context: TenantContext) => Promise<TenantStore>;

/** Shard lookup shared by the tenant-facing services. */
export function storeLocator(shards: ReadonlyMap<string, ShardStore>): TenantStoreLocator {
  return async (context) => {
    const shard = shards.get(context.tenant.shard);
    if (shard === undefined)
      throw new PalisadeError('PALISADE_INTERNAL', `shard ${context.tenant.shard} is not open`);
    return shard.tenant(context.tenantId);
  };
}

/** Defining and listing a tenant's collections. */
export class CollectionService {
  readonly #locate: TenantStoreLocator;
  readonly #committer: GroupCommitter;
  readonly #schemas: SchemaRegistry;
  readonly #caps: ObjectCaps;

  constructor(
    locate: TenantStoreLocator,
    committer: GroupCommitter,
    schemas: SchemaRegistry,
    caps: ObjectCaps,
  ) {
    this.#locate = locate;
    this.#committer = committer;
    this.#schemas = schemas;
    this.#caps = caps;
  }

  /**
   * Creates or replaces a collection definition; `created` tells which. Only a creation is
   * counted against the plan's collectionsMax, in the transaction that inserts it, under the
   * tenant's collection-count lock; replacing one never is. Its encrypted fields change only
   * while it has no records, which only a caller that may read every record of it (`reads`)
   * is told: any other is refused the change.
   */
  async put(
    context: TenantContext,
    name: string,
    definition: CollectionDefinition,
    reads: CollectionReads,
  ): Promise<{ created: boolean; collection: CollectionRow }> {
    this.#schemas.check(definition.schema, definition.encrypted);
    const store = await this.#locate(context);
    return this.#committer.submit(store, async (tx, record) => {
      const existing = await this.#existingOrAdmitted(context, tx, name);
      if (existing !== undefined && !sameFields(existing.encrypted, definition.encrypted)) {
        // Whether it has records shows that some exist: only to a caller that may read them all.
        if (!reads.every(name))
          throw new PalisadeError(
            'PALISADE_FORBIDDEN',
            `changing the encrypted fields of ${name} needs records:read on every record of it, which the credential's roles or the tenant's policies do not allow`,
          );
        const any = await tx.listRecords(name, { after: undefined, limit: 1, filters: [] });
        if (any.length > 0)
          throw new PalisadeError(
            'PALISADE_COLLECTION_NOT_EMPTY',
            `the encrypted fields of ${name} cannot change while it has records`,
          );
      }
      const now = new Date().toISOString();
      const collection: CollectionRow = {
        name,
        schema: definition.schema,
        encrypted: [...definition.encrypted],
        version: (existing?.version ?? 0) + 1,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      await tx.putCollection(collection);
      record({
        actor: context.actor.id,
        action: existing === undefined ? 'collection.create' : 'collection.update',
        resource: `collections/${name}`,
        state: {
          schema: collection.schema,
          encrypted: collection.encrypted,
          version: collection.version,
        },
      });
      return { created: existing === undefined, collection };
    });
  }

  /**
   * The collection `name`, held for this change (see TenantWriteTx.collectionForChange), or
   * undefined once the plan's collectionsMax admits creating it.
   */
  async #existingOrAdmitted(
    context: TenantContext,
    tx: TenantWriteTx,
    name: string,
  ): Promise<CollectionRow | undefined> {
    const existing = await tx.collectionForChange(name);
    if (existing === undefined && this.#caps.capOf(context, 'collections') !== 0)
      this.#caps.check(context, 'collections', await tx.lockCollectionCount());
    return existing;
  }

  async get(context: TenantContext, name: string): Promise<CollectionRow> {
    const collection = await (await this.#locate(context)).reader.getCollection(name);
    if (collection === undefined)
      throw new PalisadeError(
        'PALISADE_COLLECTION_NOT_FOUND',
        `no collection ${JSON.stringify(name)}`,
      );
    return collection;
  }

  /**
   * How many collections of the tenant the caller may read (`readable`, by name): the store's
   * count when the decision is `uniform`, else the readable ones of all.
   */
  async count(context: TenantContext, readable: CountReads<string>): Promise<number> {
    if (readable.uniform === false) return 0;
    if (readable.uniform === true) return (await this.#locate(context)).reader.countCollections();
    return (await this.list(context, readable, 0)).count;
  }

  /**
   * The first `limit` collections by name after `after` that the caller may read (`readable`,
   * by name), as if no other existed, and whether another follows (see readableKeyed).
   */
  async page(
    context: TenantContext,
    after: string | undefined,
    limit: number,
    readable: (name: string) => boolean,
  ): Promise<{ items: CollectionRow[]; more: boolean }> {
    const { reader } = await this.#locate(context);
    return readableKeyed(
      (from, count) => reader.listCollections({ after: from, limit: count }),
      (row) => readable(row.name),
      after,
      limit,
      (row) => row.name,
    );
  }

  /**
   * The collections the caller may read (`readable`, by name), as if no other existed: the
   * first `max` of them in `items`, and how many there are in `count`.
   */
  async list(
    context: TenantContext,
    readable: (name: string) => boolean,
    max = Number.POSITIVE_INFINITY,
  ): Promise<{ items: CollectionRow[]; count: number }> {
    const { reader } = await this.#locate(context);
    const items: CollectionRow[] = [];
    let count = 0;
    for (let after: string | undefined; ; ) {
      const page = await reader.listCollections({ after, limit: COLLECTION_PAGE });
      for (const row of page) {
        if (!readable(row.name)) continue;
        if (count++ < max) items.push(row);
      }
      if (page.length < COLLECTION_PAGE) return { items, count };
      after = page.at(-1)!.name;
    }
  }
}

function sameFields(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((field) => b.includes(field));
}
