import { type EntityJson, policySetTextToParts } from '@cedar-policy/cedar-wasm/nodejs';
import { PalisadeError } from '../errors/index.ts';
import type { ShardStore } from '../store/index.ts';
import type { Actor, Tenant, TenantContext } from '../tenancy/index.ts';
import { evaluate, loadPolicySet } from './cedar-engine.ts';
import { CEDAR_NAMESPACE, type PrincipalType, resourceTypeOf } from './cedar-schema.ts';
import type { Permission, PermissionSet } from './permissions.ts';

/** What authorization needs of an authenticated tenant principal. */
export interface TenantPrincipal {
  readonly context: TenantContext;
  /** What the principal's roles allow. */
  readonly permissions: PermissionSet;
  /** The role names the permissions came from (Cedar sees the principal as their member). */
  readonly roles: readonly string[];
}

/** The thing acted on, as far as the caller knows it. */
export interface ResourceRef {
  /** The tenant that owns the resource; any other tenant's principal is refused. */
  readonly tenantId: string;
  /** Its id (a collection's name, a device's id…); `*` when the act is on the whole kind. */
  readonly id?: string | undefined;
  /** Attributes of its Cedar entity type beyond `tenant` (see the schema). */
  readonly attributes?: Readonly<Record<string, string | readonly string[]>> | undefined;
}

interface Uid {
  readonly type: string;
  readonly id: string;
}

/** An entity as Cedar's JSON takes it, with the plain `{ type, id }` uid form. */
interface Entity extends EntityJson {
  readonly uid: Uid;
  readonly parents: Uid[];
}

const PRINCIPAL_TYPE: Partial<Record<Actor['kind'], PrincipalType>> = {
  'api-key': 'ApiKey',
  'service-client': 'Client',
  user: 'User',
  device: 'Device',
};

/** A tenant's loaded policy set, or null when it has none. */
type Loaded = { readonly id: string } | null;

interface CachedPolicies {
  readonly expires: number;
  readonly loading: Promise<Loaded>;
  loaded?: Loaded;
}

/** Upper bound of tenants whose policy state is cached. */
const TENANT_POLICY_CACHE_MAX = 10_000;

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
 * the credential cache's TTL: a tenant without any pays a map lookup, nothing more.
 */
export class Authorizer {
  readonly #shards: ReadonlyMap<string, ShardStore>;
  readonly #ttlMs: number;
  readonly #tenants = new Map<string, CachedPolicies>();

  constructor(shards: ReadonlyMap<string, ShardStore>, ttlMs: number) {
    this.#shards = shards;
    this.#ttlMs = ttlMs;
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
    const cached = this.#tenants.get(tenant.id);
    if (cached?.loaded !== undefined && cached.expires > Date.now())
      return this.#decide(cached.loaded, principal, permission, resource);
    return this.#policies(tenant).then((loaded) =>
      this.#decide(loaded, principal, permission, resource),
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

  #decide(
    loaded: Loaded,
    principal: TenantPrincipal,
    permission: Permission,
    resource: ResourceRef | undefined,
  ): boolean {
    if (loaded === null) return true;
    const type = PRINCIPAL_TYPE[principal.context.actor.kind];
    if (type === undefined) return false;
    const tenantId = principal.context.tenantId;
    const entities = new Map<string, Entity>();
    const add = (entity: Entity) => {
      const key = `${entity.uid.type}::${entity.uid.id}`;
      const seen = entities.get(key);
      entities.set(
        key,
        seen === undefined
          ? entity
          : {
              uid: entity.uid,
              attrs: { ...seen.attrs, ...entity.attrs },
              parents: [...seen.parents, ...entity.parents],
            },
      );
    };
    const roleUids = principal.roles.map((role) => uid('Role', role));
    for (const role of roleUids) add({ uid: role, attrs: { tenant: tenantId }, parents: [] });
    const principalUid = uid(type, principal.context.actor.id);
    add({ uid: principalUid, attrs: { tenant: tenantId }, parents: roleUids });
    const resourceUid = uid(resourceTypeOf(permission), resource?.id ?? '*');
    add({
      uid: resourceUid,
      attrs: {
        ...toCedarAttributes(resource?.attributes),
        tenant: resource?.tenantId ?? tenantId,
      },
      parents: [],
    });
    return evaluate(loaded.id, {
      principal: principalUid,
      action: permission,
      resource: resourceUid,
      entities: [...entities.values()],
    });
  }

  #policies(tenant: Tenant): Promise<Loaded> {
    const now = Date.now();
    const cached = this.#tenants.get(tenant.id);
    if (cached !== undefined && cached.expires > now) return cached.loading;
    if (this.#tenants.size >= TENANT_POLICY_CACHE_MAX) this.#tenants.clear();
    const entry: CachedPolicies = {
      expires: now + this.#ttlMs,
      loading: this.#load(tenant).then((loaded) => {
        // Only the tenant's newest load installs its policies in the engine.
        if (this.#tenants.get(tenant.id) === entry && loaded !== null)
          loadPolicySet(loaded.id, loaded.policies);
        entry.loaded = loaded === null ? null : { id: loaded.id };
        return entry.loaded;
      }),
    };
    this.#tenants.set(tenant.id, entry);
    entry.loading.catch(() => {
      if (this.#tenants.get(tenant.id) === entry) this.#tenants.delete(tenant.id);
    });
    return entry.loading;
  }

  async #load(tenant: Tenant): Promise<{ id: string; policies: string[] } | null> {
    const shard = this.#shards.get(tenant.shard);
    if (shard === undefined)
      throw new PalisadeError('PALISADE_INTERNAL', `shard ${tenant.shard} is not open`);
    const row = await (await shard.tenant(tenant.id)).reader.authz.getPolicySet();
    if (row === undefined) return null;
    const parts = policySetTextToParts(row.text);
    if (parts.type !== 'success')
      throw new PalisadeError(
        'PALISADE_INTERNAL',
        `the stored policy set of ${tenant.id} no longer parses`,
      );
    return { id: tenant.id, policies: parts.policies };
  }
}

function uid(type: string, id: string): Uid {
  return { type: `${CEDAR_NAMESPACE}::${type}`, id };
}

function toCedarAttributes(
  attributes: ResourceRef['attributes'],
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(attributes ?? {}))
    out[name] = typeof value === 'string' ? value : [...value];
  return out;
}

/** PALISADE_FORBIDDEN saying which layer refused. */
export function forbidden(principal: TenantPrincipal, permission: Permission): PalisadeError {
  return new PalisadeError(
    'PALISADE_FORBIDDEN',
    principal.permissions.has(permission)
      ? `the tenant's policies do not allow ${permission} here; GET /v1/policies shows them`
      : `this needs the permission ${permission}, which the credential's roles (${principal.roles.join(', ') || 'none'}) do not grant`,
  );
}
