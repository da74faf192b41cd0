import type { MaybePromise } from '../maybe-promise/index.ts';
import type { ResourceRef } from './cedar-request.ts';
import { readRouteOf } from './ledger-resources.ts';
import type { Permission } from './permissions.ts';
import type { RecordReads } from './record-reads.ts';
import { restResource } from './rest-resource.ts';

const RECORD_RESOURCE = /^collections\/([^/]+)\/records\/(.+)$/;

/**
 * What one principal's ledger listing may show and its export may open: the records it may read (RecordReads), and
 * the entries whose committed state it may read through the API, each decided as the read
 * route of its resource decides it (see readRouteOf). A salt opens its entry's commitment to
 * whoever guesses the state, so only these entries' salts go out. What a route decides on (a
 * device, a user…) is decided once, and an entry after the first of its ledger resource costs
 * a map lookup.
 */
export class EntryReads {
  readonly #records: RecordReads;
  readonly #tenantId: string;
  readonly #decide: (permission: Permission, resource: ResourceRef) => MaybePromise<boolean>;
  /** Decisions by ledger resource, and by the permission and resource they are made on. */
  readonly #resources = new Map<string, MaybePromise<boolean>>();
  readonly #decisions = new Map<string, MaybePromise<boolean>>();

  /** `decide`: the principal's decision on one resource, as a route would make it. */
  constructor(
    records: RecordReads,
    tenantId: string,
    decide: (permission: Permission, resource: ResourceRef) => MaybePromise<boolean>,
  ) {
    this.#records = records;
    this.#tenantId = tenantId;
    this.#decide = decide;
  }

  /** Whether the principal may list the collection's records. */
  collection(name: string): boolean {
    return this.#records.collection(name);
  }

  /** Whether the principal may read the record. */
  record(collection: string, id: string): boolean {
    return this.#records.record(collection, id);
  }

  /** Whether the principal may read what the entries of the ledger resource commit to. */
  opens(resource: string): MaybePromise<boolean> {
    const record = RECORD_RESOURCE.exec(resource);
    if (record !== null) return this.#records.record(record[1]!, record[2]!);
    let opens = this.#resources.get(resource);
    if (opens === undefined) {
      opens = this.#opens(resource);
      this.#resources.set(resource, opens);
      settle(this.#resources, resource, opens);
    }
    return opens;
  }

  /**
   * Whether a listing of the ledger may show the entries of the resource: a record's or an
   * item's as its read route decides (see opens), the rest (the tenant, its API keys,
   * provisioning keys, edge batches, retention runs: no tenant route reads them one by one)
   * to whoever may read the ledger.
   */
  shows(resource: string): MaybePromise<boolean> {
    if (!RECORD_RESOURCE.test(resource) && readRouteOf(resource) === undefined) return true;
    return this.opens(resource);
  }

  #opens(resource: string): MaybePromise<boolean> {
    const route = readRouteOf(resource);
    if (route === undefined || route === 'public') return route === 'public';
    const ref = restResource(this.#tenantId, route.permission, route.url, route.params);
    const key = JSON.stringify([route.permission, ref.id, ref.attributes]);
    let decision = this.#decisions.get(key);
    if (decision === undefined) {
      decision = this.#decide(route.permission, ref);
      this.#decisions.set(key, decision);
      settle(this.#decisions, key, decision);
    }
    return decision;
  }
}

/** Replaces a pending decision in `map` by its value once it has one. */
function settle(
  map: Map<string, MaybePromise<boolean>>,
  key: string,
  value: MaybePromise<boolean>,
) {
  if (value instanceof Promise)
    value.then(
      (settled) => map.set(key, settled),
      () => undefined,
    );
}
