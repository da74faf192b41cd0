import { isUuid } from '../ids/index.ts';
import type { ResourceRef } from './cedar-request.ts';
import { unnamedRecordId } from './record-ids.ts';
import { restResource } from './rest-resource.ts';

/** The routes whose decisions these repeat. */
const LIST_URL = '/v1/collections/:name/records';
const RECORD_URL = '/v1/collections/:name/records/:id';

/**
 * `records:read` of one principal over many records (a listing, a ledger export), decided as
 * the record routes decide it: a collection is readable when its records may be listed
 * (GET /v1/collections/{name}/records), a record of a readable collection when it may be read
 * itself (GET …/records/{id}).
 *
 * Only a record that a policy names by id can be decided unlike the rest of its collection
 * (see recordIdsNamed). So with no such policy the collection's one decision is every
 * record's, and with some, each named record is decided and the others of a collection share
 * one decision, made on an id no policy names: it costs a decision per collection and per
 * named record, never one per record.
 */
export class RecordReads {
  readonly #tenantId: string;
  readonly #named: ReadonlySet<string>;
  readonly #unnamedId: string;
  readonly #allowed: (resource: ResourceRef) => boolean;
  readonly #collections = new Map<string, boolean>();
  readonly #unnamedDecisions = new Map<string, boolean>();

  /** `named`: the record ids the tenant's policies name; `allowed`: the decision on one resource. */
  constructor(
    tenantId: string,
    named: ReadonlySet<string>,
    allowed: (resource: ResourceRef) => boolean,
  ) {
    this.#tenantId = tenantId;
    this.#named = named;
    this.#unnamedId = unnamedRecordId(named);
    this.#allowed = allowed;
  }

  /** Whether the principal may list the collection's records. */
  collection(name: string): boolean {
    let allowed = this.#collections.get(name);
    if (allowed === undefined) {
      allowed = this.#allowed(restResource(this.#tenantId, 'records:read', LIST_URL, { name }));
      this.#collections.set(name, allowed);
    }
    return allowed;
  }

  /** Whether the principal may read the record: never one of a collection it may not list. */
  record(collection: string, id: string): boolean {
    if (!this.collection(collection)) return false;
    if (this.#named.size === 0) return true;
    return this.#named.has(id) ? this.#decide(collection, id) : this.#unnamed(collection);
  }

  /**
   * Whether the principal may read every record the collection can hold: it may list them, and
   * read each a policy names as well as the others.
   */
  every(collection: string): boolean {
    if (!this.collection(collection)) return false;
    if (this.#named.size === 0) return true;
    if (!this.#unnamed(collection)) return false;
    return [...this.#named].filter(isUuid).every((id) => this.#decide(collection, id));
  }

  /**
   * The only ids the principal's readable records of the collection can have, when that is
   * fewer than all: none of a collection it may not list, and the named records when it may
   * read no other. Undefined when any record of it may be readable.
   */
  candidates(collection: string): readonly string[] | undefined {
    if (!this.collection(collection)) return [];
    if (this.#named.size === 0 || this.#unnamed(collection)) return undefined;
    return [...this.#named].filter(isUuid);
  }

  #unnamed(collection: string): boolean {
    let allowed = this.#unnamedDecisions.get(collection);
    if (allowed === undefined) {
      allowed = this.#decide(collection, this.#unnamedId);
      this.#unnamedDecisions.set(collection, allowed);
    }
    return allowed;
  }

  #decide(collection: string, id: string): boolean {
    return this.#allowed(
      restResource(this.#tenantId, 'records:read', RECORD_URL, { name: collection, id }),
    );
  }
}
