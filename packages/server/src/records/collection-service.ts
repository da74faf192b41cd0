import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { CollectionRow, ShardStore, TenantStore } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type { SchemaRegistry } from './schema-registry.ts';

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

  constructor(locate: TenantStoreLocator, committer: GroupCommitter, schemas: SchemaRegistry) {
    this.#locate = locate;
    this.#committer = committer;
    this.#schemas = schemas;
  }

  /** Creates or replaces a collection definition; `created` tells which. */
  async put(
    context: TenantContext,
    name: string,
    definition: CollectionDefinition,
  ): Promise<{ created: boolean; collection: CollectionRow }> {
    this.#schemas.check(definition.schema, definition.encrypted);
    const store = await this.#locate(context);
    return this.#committer.submit(store, async (tx, record) => {
      const existing = await tx.getCollection(name);
      if (existing !== undefined && !sameFields(existing.encrypted, definition.encrypted)) {
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

  async get(context: TenantContext, name: string): Promise<CollectionRow> {
    const collection = await (await this.#locate(context)).reader.getCollection(name);
    if (collection === undefined)
      throw new PalisadeError(
        'PALISADE_COLLECTION_NOT_FOUND',
        `no collection ${JSON.stringify(name)}`,
      );
    return collection;
  }

  async list(context: TenantContext): Promise<CollectionRow[]> {
    return (await this.#locate(context)).reader.listCollections();
  }
}

function sameFields(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((field) => b.includes(field));
}
