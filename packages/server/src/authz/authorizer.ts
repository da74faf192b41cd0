import { policySetTextToParts } from '@cedar-policy/cedar-wasm/nodejs';
import { Counter, type Registry } from 'prom-client';
import { setNewest } from '../caches/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { isUuid } from '../ids/index.ts';
import type { ShardStore, TenantStore } from '../store/index.ts';
import type { Tenant, TenantContext } from '../tenancy/index.ts';
import { ActingDevices, type DeviceAttributes } from './acting-devices.ts';
import { evaluate, loadPolicySet } from './cedar-engine.ts';
import { type CedarQuestion, cedarQuestion, type ResourceRef } from './cedar-request.ts';
import { resourceTypeOf } from './cedar-schema.ts';
import { DeviceStreamReads } from './device-stream-reads.ts';
import { EntryReads } from './entry-reads.ts';
import type { Permission, PermissionSet } from './permissions.ts';
import { recordIdsNamed, unnamedRecordId } from './record-ids.ts';
import { RecordReads } from './record-reads.ts';
import {
  type ContextAttribute,
  contextAttributesRead,
  type RequestFacts,
} from './request-context.ts';
import { itemResource } from './rest-resource.ts';
import { builtInRolePermissions } from './roles.ts';

/** A device as policies see it (see the schema's Device). */
export interface DeviceEntity {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly labels: readonly string[];
}

/** The permissions that act on one device. */
export type DevicePermission = Extract<Permission, `${'devices' | 'telemetry' | 'rpc'}:${string}`>;

/** The permissions that act on one item named by its id alone (a collection or role by name). */
export type ItemPermission = Extract<
  Permission,
  `${'collections' | 'users' | 'clients' | 'edge' | 'roles'}:${string}`
>;

/**
 * A listing's decision on each item of one kind, and `uniform` when it is the same for every
 * item of the tenant (false: the permission is not held; true: the tenant has no policies),
 * so a count of what the caller may read needs read no item. Undefined: policies decide each.
 */
export type ItemDecision<T> = ((item: T) => boolean) & { readonly uniform: boolean | undefined };

/** What authorization needs of an authenticated tenant principal. */
export interface TenantPrincipal {
  readonly context: TenantContext;
  /** What the principal's roles allow. */
  readonly permissions: PermissionSet;
  /** The role names the permissions came from (Cedar sees the principal as their member). */
  readonly roles: readonly string[];
  /** The request it acts in, the same for every decision of that request (Cedar's context). */
  readonly request: RequestFacts;
  /** Attributes of its Cedar entity beyond `tenant` (a device's name, type and labels). */
  readonly attributes?: ResourceRef['attributes'];
}

/** A device acting on itself through its own credential (MQTT, the device HTTP API). */
export interface DeviceActor {
  readonly context: TenantContext;
  readonly deviceId: string;
}

/** What every device holds: the built-in `device` role. */
const DEVICE_ROLES: readonly string[] = ['device'];
const DEVICE_PERMISSIONS = builtInRolePermissions('device');

/**
 * A tenant's loaded policy set, or null when it has none. `generation` differs for every
 * load, so a decision cached under an older set is never read for a newer one; `recordIds`
 * are the records its policies name (see recordIdsNamed), `unnamedRecordId` one they do not,
 * `context` the context attributes they read (empty: no decision depends on the request).
 */
type Loaded = {
  readonly id: string;
  readonly generation: number;
  readonly recordIds: ReadonlySet<string>;
  readonly unnamedRecordId: string;
  readonly context: ReadonlySet<ContextAttribute>;
} | null;

interface CachedPolicies {
  readonly expires: number;
  readonly loading: Promise<Loaded>;
  /** The newest loaded state: this entry's once loaded, until then its predecessor's. */
  loaded?: Loaded;
}

/**
 * Upper bound of cached Cedar decisions, least recently used dropped first. An evaluation
 * costs 200–300 µs through WebAssembly (the request is validated); a repeat, its key's lookup.
 */
const DECISION_CACHE_MAX = 10_000;

let generations = 0;

/**
 * The one authorization decision for REST, GraphQL and MQTT. Deny by default; a principal
 * is allowed `permission` on `resource` only when
 *
 * 1. its roles grant the permission (a constant-time bit test), and
 * 2. the resource belongs to the principal's tenant (the platform's isolation rule), and
 * 3. if its tenant has a Cedar policy set: Cedar allows the request under the tenant's
 *    policies plus the isolation rule as a `forbid` — some policy permits, none forbids,
 *    none errors.
 *
 * So roles bound what anyone can do; a tenant's policies can only narrow that, by forbidding
 * or by permitting selectively, never widen it. Whether a tenant has policies is cached for
 * the credential cache's TTL, and refreshed in the background once it expired (a change made
 * in this process applies at once): a tenant without policies pays a map lookup. Only for
 * a tenant with policies is a device named by id without attributes read, so its name, type
 * and labels are there for the policies to test; a device acting as principal (decideDevice)
 * is read so too, at most once per TTL.
 */
export class Authorizer {
  readonly #shards: ReadonlyMap<string, ShardStore>;
  readonly #ttlMs: number;
  readonly #tenantsMax: number;
  readonly #tenants = new Map<string, CachedPolicies>();
  readonly #decisions = new Map<string, boolean>();
  /** Acting devices' name, type and labels, for tenants with policies. */
  readonly #devices: ActingDevices;
  /** Tenants whose policy set this process loaded into the engine. */
  readonly #inEngine = new Set<string>();
  readonly #evaluations: Counter;

  /** `tenantsMax`: most tenants whose policy state is cached; the least recently loaded goes. */
  constructor(
    shards: ReadonlyMap<string, ShardStore>,
    ttlMs: number,
    tenantsMax: number,
    metrics: Registry,
  ) {
    this.#shards = shards;
    this.#ttlMs = ttlMs;
    this.#tenantsMax = tenantsMax;
    this.#devices = new ActingDevices({
      ttlMs,
      max: DECISION_CACHE_MAX,
      read: (tenant, deviceId) => this.#deviceAttributes(tenant, deviceId),
    });
    this.#evaluations = new Counter({
      name: 'palisade_cedar_evaluations_total',
      help: 'Cedar evaluations of tenant policies: the authorization decisions the decision cache did not answer',
      registers: [metrics],
    });
  }

  /** The decision; synchronous unless the tenant's policy state must be read first. */
  decide(
    principal: TenantPrincipal,
    permission: Permission,
    resource?: ResourceRef,
  ): boolean | Promise<boolean> {
    if (!principal.permissions.has(permission)) return false;
    const tenant = principal.context.tenant;
    if (resource !== undefined && resource.tenantId !== tenant.id) return false;
    const loaded = this.#current(tenant);
    return loaded instanceof Promise
      ? loaded.then((known) => this.#withAttributes(known, principal, permission, resource))
      : this.#withAttributes(loaded, principal, permission, resource);
  }

  /**
   * A device's act on itself through its own credential (`permission` on the device, which is
   * also the principal, a member of the `device` role), the request's context its connection's
   * address and the time `at`. A tenant without policies pays the role's bit test and a map
   * lookup, and nothing is allocated. For one with policies, the device's name, type and
   * labels are read at most once per `ttlMs` (so policies see a change within that), and a
   * repeated act hits the decision cache.
   */
  decideDevice(
    device: DeviceActor,
    permission: Permission,
    address: string | undefined,
    at: number,
  ): boolean | Promise<boolean> {
    if (!DEVICE_PERMISSIONS.has(permission)) return false;
    const loaded = this.#current(device.context.tenant);
    if (loaded === null) return true;
    return loaded instanceof Promise
      ? loaded.then((known) => this.#deviceActs(known, device, permission, address, at))
      : this.#deviceActs(loaded, device, permission, address, at);
  }

  #deviceActs(
    loaded: Loaded,
    device: DeviceActor,
    permission: Permission,
    address: string | undefined,
    at: number,
  ): boolean | Promise<boolean> {
    if (loaded === null) return true;
    const decide = (attributes: DeviceAttributes) =>
      this.#decide(
        loaded,
        {
          context: device.context,
          permissions: DEVICE_PERMISSIONS,
          roles: DEVICE_ROLES,
          request: { address, at },
          attributes,
        },
        permission,
        { tenantId: device.context.tenantId, id: device.deviceId, attributes },
      );
    const attributes = this.#devices.of(device.context.tenant, device.deviceId);
    return attributes instanceof Promise ? attributes.then(decide) : decide(attributes);
  }

  /**
   * `records:read` of the principal over many records of its tenant (a listing), each decided
   * as decide would; which records the policies name is taken from the policy set in force
   * when it is made, as a request already authorized finishes under the set it began with.
   */
  async recordReads(principal: TenantPrincipal): Promise<RecordReads> {
    return this.#recordReads(await this.#current(principal.context.tenant), principal);
  }

  /**
   * What the principal's ledger listing may show and its export may open: its records as
   * recordReads, and every other entry by the read route of its resource, decided as decide
   * would under the same policy set. These decisions are not cached beyond the listing or
   * export: it may name every device and user.
   */
  async exportReads(principal: TenantPrincipal): Promise<EntryReads> {
    const loaded = await this.#current(principal.context.tenant);
    return new EntryReads(
      this.#recordReads(loaded, principal),
      principal.context.tenantId,
      (permission, resource) =>
        principal.permissions.has(permission) &&
        this.#withAttributes(loaded, principal, permission, resource, false),
    );
  }

  /**
   * `permission` of the principal over many devices of its tenant (a listing), each decided
   * as a route on that one device decides it, on the name, type and labels given, under the
   * policy set in force when it is made. These decisions are not cached beyond the listing:
   * it may name every device.
   */
  async deviceReads(
    principal: TenantPrincipal,
    permission: DevicePermission,
  ): Promise<ItemDecision<DeviceEntity>> {
    const loaded = await this.#current(principal.context.tenant);
    const held = principal.permissions.has(permission);
    const tenantId = principal.context.tenantId;
    return Object.assign(
      ({ id, name, type, labels }: DeviceEntity) => {
        const device = { tenantId, id, attributes: { name, type, labels } };
        return held && this.#decide(loaded, principal, permission, device, false);
      },
      { uniform: uniformly(loaded, held) },
    );
  }

  /**
   * `permission` of the principal over many items of one kind of its tenant (a listing of
   * collections, users, clients, edge nodes or roles), each decided by its id as the route on
   * that one item decides it, under the policy set in force when it is made. These decisions
   * are not cached beyond the listing: it may name every item.
   */
  async itemReads(
    principal: TenantPrincipal,
    permission: ItemPermission,
  ): Promise<ItemDecision<string>> {
    const loaded = await this.#current(principal.context.tenant);
    const held = principal.permissions.has(permission);
    const tenantId = principal.context.tenantId;
    return Object.assign(
      (id: string) =>
        held &&
        this.#decide(loaded, principal, permission, itemResource(tenantId, permission, id), false),
      { uniform: uniformly(loaded, held) },
    );
  }

  /**
   * `permission` of the principal on each device a stream of its tenant carries, and on the
   * stream itself (of `device`, or without it of every device: `*`), decided as a route on
   * that one device, or the stream's route, decides it (a device read as it is now), and made
   * again for every policy state (see DeviceStreamReads): a policy change reaches an open
   * stream at once in this process and within the cache TTL in others.
   */
  deviceStream(
    principal: TenantPrincipal,
    permission: DevicePermission,
    device: string | undefined,
  ): DeviceStreamReads<NonNullable<Loaded>> {
    const held = principal.permissions.has(permission);
    const tenantId = principal.context.tenantId;
    return new DeviceStreamReads(
      () => this.#current(principal.context.tenant),
      (loaded, id) =>
        held && this.#withAttributes(loaded, principal, permission, { tenantId, id }, false),
      device ?? '*',
    );
  }

  #recordReads(loaded: Loaded, principal: TenantPrincipal): RecordReads {
    const held = principal.permissions.has('records:read');
    return new RecordReads(
      principal.context.tenantId,
      loaded?.recordIds ?? new Set(),
      (resource) => held && this.#decide(loaded, principal, 'records:read', resource),
    );
  }

  /** Resolves when allowed; otherwise throws PALISADE_FORBIDDEN. */
  async authorize(
    principal: TenantPrincipal,
    permission: Permission,
    resource?: ResourceRef,
  ): Promise<void> {
    if (!(await this.decide(principal, permission, resource)))
      throw forbidden(principal, permission);
  }

  /** Forgets the tenant's cached policy state (call after its policy set changed). */
  invalidate(tenantId: string): void {
    this.#tenants.delete(tenantId);
  }

  /** Tenants whose policy state is cached, plus the policy sets loaded into the engine. */
  get entriesHeld(): number {
    return this.#tenants.size + this.#inEngine.size + this.#devices.size;
  }

  /**
   * Forgets all this process holds of a deleted tenant: its policy state, its cached decisions
   * and its policy set in the engine (which keeps a set until another replaces it).
   */
  forgetDeleted(tenantId: string): void {
    const generation = this.#tenants.get(tenantId)?.loaded?.generation;
    this.#tenants.delete(tenantId);
    if (generation !== undefined) {
      const prefix = `${generation}:`;
      for (const key of this.#decisions.keys())
        if (key.startsWith(prefix)) this.#decisions.delete(key);
    }
    this.#devices.forgetTenant(tenantId);
    if (this.#inEngine.delete(tenantId)) loadPolicySet(tenantId, []);
  }

  /** The tenant's policy state: at once when cached (refreshed in the background once expired). */
  #current(tenant: Tenant): Loaded | Promise<Loaded> {
    const cached = this.#tenants.get(tenant.id);
    if (cached?.loaded !== undefined) {
      if (cached.expires <= Date.now()) void this.#policies(tenant, cached).catch(() => undefined);
      return cached.loaded;
    }
    return cached?.loading ?? this.#policies(tenant);
  }

  #withAttributes(
    loaded: Loaded,
    principal: TenantPrincipal,
    permission: Permission,
    resource: ResourceRef | undefined,
    remember = true,
  ): boolean | Promise<boolean> {
    if (
      loaded === null ||
      resourceTypeOf(permission) !== 'Device' ||
      resource?.attributes !== undefined ||
      resource?.id === undefined ||
      !isUuid(resource.id)
    )
      return this.#decide(loaded, principal, permission, resource, remember);
    return this.#deviceAttributes(principal.context.tenant, resource.id).then((attributes) =>
      this.#decide(loaded, principal, permission, { ...resource, attributes }, remember),
    );
  }

  async #deviceAttributes(tenant: Tenant, deviceId: string): Promise<DeviceAttributes> {
    const device = await (await this.#store(tenant)).reader.devices.getDevice(deviceId);
    return device === undefined
      ? {}
      : { name: device.name, type: device.type, labels: device.labels };
  }

  #decide(
    loaded: Loaded,
    principal: TenantPrincipal,
    permission: Permission,
    resource: ResourceRef | undefined,
    remember = true,
  ): boolean {
    if (loaded === null) return true;
    const question = cedarQuestion(
      principal,
      permission,
      asked(loaded, permission, resource),
      loaded.context,
    );
    if (question === undefined) return false;
    if (question.key === undefined) return this.#evaluate(loaded, question);
    const key = `${loaded.generation}:${question.key}`;
    const known = this.#decisions.get(key);
    if (known !== undefined) {
      this.#decisions.delete(key);
      this.#decisions.set(key, known);
      return known;
    }
    const allowed = this.#evaluate(loaded, question);
    if (!remember) return allowed;
    if (this.#decisions.size >= DECISION_CACHE_MAX)
      this.#decisions.delete(this.#decisions.keys().next().value!);
    this.#decisions.set(key, allowed);
    return allowed;
  }

  #evaluate(loaded: NonNullable<Loaded>, question: CedarQuestion): boolean {
    const request = question.request();
    this.#evaluations.inc();
    return request !== undefined && evaluate(loaded.id, request);
  }

  /** Loads the tenant's policy state into a new cache entry that succeeds `previous`. */
  #policies(tenant: Tenant, previous?: CachedPolicies): Promise<Loaded> {
    const entry: CachedPolicies = {
      ...(previous?.loaded === undefined ? {} : { loaded: previous.loaded }),
      expires: Date.now() + this.#ttlMs,
      loading: this.#load(tenant).then((loaded) => {
        // Only the tenant's newest load installs its policies in the engine.
        if (this.#tenants.get(tenant.id) === entry && loaded !== null) {
          loadPolicySet(loaded.id, loaded.policies);
          this.#inEngine.add(loaded.id);
        }
        entry.loaded =
          loaded === null
            ? null
            : {
                id: loaded.id,
                generation: ++generations,
                recordIds: loaded.recordIds,
                unnamedRecordId: unnamedRecordId(loaded.recordIds),
                context: loaded.context,
              };
        return entry.loaded;
      }),
    };
    setNewest(this.#tenants, tenant.id, entry, this.#tenantsMax);
    entry.loading.catch(() => {
      if (this.#tenants.get(tenant.id) === entry) this.#tenants.delete(tenant.id);
    });
    return entry.loading;
  }

  #store(tenant: Tenant): Promise<TenantStore> {
    const shard = this.#shards.get(tenant.shard);
    if (shard === undefined)
      throw new PalisadeError('PALISADE_INTERNAL', `shard ${tenant.shard} is not open`);
    return shard.tenant(tenant.id);
  }

  async #load(tenant: Tenant): Promise<{
    id: string;
    policies: string[];
    recordIds: ReadonlySet<string>;
    context: ReadonlySet<ContextAttribute>;
  } | null> {
    const row = await (await this.#store(tenant)).reader.authz.getPolicySet();
    if (row === undefined) return null;
    const parts = policySetTextToParts(row.text);
    if (parts.type !== 'success')
      throw new PalisadeError(
        'PALISADE_INTERNAL',
        `the stored policy set of ${tenant.id} no longer parses`,
      );
    return {
      id: tenant.id,
      policies: parts.policies,
      recordIds: recordIdsNamed(parts.policies),
      context: contextAttributesRead(parts.policies),
    };
  }
}

/**
 * The resource Cedar is asked about: a record no policy names is asked about as the one id
 * that stands for them all, since Cedar decides every such record of a collection alike (see
 * recordIdsNamed). So a decision on one such record is cached for all of its collection: the
 * same permission on another of them costs no evaluation.
 */
function asked(
  loaded: NonNullable<Loaded>,
  permission: Permission,
  resource: ResourceRef | undefined,
): ResourceRef | undefined {
  if (
    resource?.id === undefined ||
    resourceTypeOf(permission) !== 'Record' ||
    loaded.recordIds.has(resource.id)
  )
    return resource;
  return { ...resource, id: loaded.unnamedRecordId };
}

/** A listing's decision when no item can change it (see ItemDecision), else undefined. */
function uniformly(loaded: Loaded, held: boolean): boolean | undefined {
  if (!held) return false;
  return loaded === null ? true : undefined;
}

/** PALISADE_FORBIDDEN saying which layer refused. */
export function forbidden(
  principal: Pick<TenantPrincipal, 'permissions' | 'roles'>,
  permission: Permission,
): PalisadeError {
  return new PalisadeError(
    'PALISADE_FORBIDDEN',
    principal.permissions.has(permission)
      ? `the tenant's policies do not allow ${permission} here; GET /v1/policies shows them`
      : `this needs the permission ${permission}, which the credential's roles (${principal.roles.join(', ') || 'none'}) do not grant`,
  );
}
