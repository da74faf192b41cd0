import type { MaybePromise } from '../maybe-promise/index.ts';
import type { RecordEncryption } from '../records/index.ts';
import {
  type CollectionRow,
  type FieldFilter,
  type RecordRow,
  StoredJsonRecord,
  type TenantWriteTx,
} from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type { KeyService } from './key-service.ts';
import { indexOf, openRecord, openRecordJson, sealRecord } from './record-cipher.ts';

/** The records' encryption, on the tenant key hierarchy. */
export class RecordKeys implements RecordEncryption {
  readonly #keys: KeyService;

  constructor(keys: KeyService) {
    this.#keys = keys;
  }

  async ready(context: TenantContext): Promise<void> {
    await this.#keys.dataKeys(context.tenant);
  }

  async seal(
    context: TenantContext,
    collection: CollectionRow,
    id: string,
    data: Record<string, unknown>,
    tx: TenantWriteTx,
  ) {
    // Nothing to encrypt: no key is held, and no encryption counted.
    if (!collection.encrypted.some((field) => Object.hasOwn(data, field)))
      return { data, sealed: undefined };
    const place = { tenantId: context.tenantId, collection: collection.name, id };
    return this.#keys.withKeys(
      context.tenant,
      [],
      ({ current, indexKey }) => sealRecord(current, indexKey(), place, collection.encrypted, data),
      tx,
    );
  }

  open(context: TenantContext, rows: readonly RecordRow[]): MaybePromise<RecordRow[]> {
    const versions: number[] = [];
    for (const row of rows)
      if (row.sealed !== undefined && !versions.includes(row.sealed.keyVersion))
        versions.push(row.sealed.keyVersion);
    if (versions.length === 0) return [...rows];
    return this.#keys.withFieldKeys(context.tenant, versions, ({ ring }) =>
      rows.map((row) => {
        if (row.sealed === undefined) return row;
        const place = { tenantId: context.tenantId, collection: row.collection, id: row.id };
        const text = row instanceof StoredJsonRecord ? row.storedText : undefined;
        if (text !== undefined)
          return new StoredJsonRecord(row, openRecordJson(ring, place, text, row.sealed));
        return { ...row, data: openRecord(ring, place, row.data, row.sealed), sealed: undefined };
      }),
    );
  }

  async blindFilters(
    context: TenantContext,
    collection: CollectionRow,
    filters: readonly FieldFilter[],
  ): Promise<FieldFilter[]> {
    if (!filters.some((f) => collection.encrypted.includes(f.field))) return [...filters];
    const place = { tenantId: context.tenantId, collection: collection.name };
    return this.#keys.withKeys(context.tenant, [], ({ indexKey }) =>
      filters.map((filter) =>
        collection.encrypted.includes(filter.field)
          ? {
              field: filter.field,
              value: indexOf(indexKey(), place, filter.field, filter.value),
              blind: true,
            }
          : filter,
      ),
    );
  }
}
