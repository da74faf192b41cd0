import type { EntityJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { Actor } from '../tenancy/index.ts';
import type { TenantPrincipal } from './authorizer.ts';
import type { CedarRequest } from './cedar-engine.ts';
import { CEDAR_NAMESPACE, type PrincipalType, resourceTypeOf } from './cedar-schema.ts';
import type { Permission } from './permissions.ts';
import { type ContextAttribute, cedarContext, contextKey } from './request-context.ts';

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

/** An entity's attributes as Cedar's JSON takes them, with its `tenant`. */
function entityAttributes(
  given: ResourceRef['attributes'],
  tenant: string,
): Record<string, string | string[]> {
  const attributes: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(given ?? {}))
    attributes[name] = typeof value === 'string' ? value : [...value];
  attributes.tenant = tenant;
  return attributes;
}

function uid(type: string, id: string): Uid {
  return { type: `${CEDAR_NAMESPACE}::${type}`, id };
}

/**
 * One decision to make, named exactly by `key` (undefined: it cannot be cached); `request()`
 * builds what Cedar evaluates, undefined when the request lacks what the policies read (denied).
 */
export interface CedarQuestion {
  readonly key: string | undefined;
  request(): CedarRequest | undefined;
}

/**
 * The Cedar question for a decision: the principal (a member of its roles, with its
 * attributes), the permission as the action, the resource with its tenant and attributes, the
 * request's context. `key` names it exactly, for caching its decision, with the context
 * attributes the policies `read` alone; the entities are built only if Cedar is asked.
 * Undefined when the principal's kind has no Cedar type (denied).
 */
export function cedarQuestion(
  principal: TenantPrincipal,
  permission: Permission,
  resource: ResourceRef | undefined,
  read: ReadonlySet<ContextAttribute>,
): CedarQuestion | undefined {
  const type = PRINCIPAL_TYPE[principal.context.actor.kind];
  if (type === undefined) return undefined;
  const tenantId = principal.context.tenantId;
  const attributes = entityAttributes(resource?.attributes, resource?.tenantId ?? tenantId);
  const principalAttributes = entityAttributes(principal.attributes, tenantId);
  const resourceId = resource?.id ?? '*';
  const context = contextKey(principal.request, read);
  return {
    key:
      context === undefined
        ? undefined
        : JSON.stringify([
            tenantId,
            principal.context.actor.id,
            type,
            principal.roles,
            ...(principal.attributes === undefined ? [] : [principalAttributes]),
            permission,
            resourceId,
            attributes,
            ...(read.size === 0 ? [] : [context]),
          ]),
    request: () => {
      const context = cedarContext(principal.request, read);
      if (context === undefined) return undefined;
      const entities = new Map<string, Entity>();
      // A resource may also be the principal or one of its roles: one entity, attributes merged.
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
      const roles = principal.roles.map((role) => uid('Role', role));
      for (const role of roles) add({ uid: role, attrs: { tenant: tenantId }, parents: [] });
      const principalUid = uid(type, principal.context.actor.id);
      add({ uid: principalUid, attrs: principalAttributes, parents: roles });
      const resourceUid = uid(resourceTypeOf(permission), resourceId);
      add({ uid: resourceUid, attrs: attributes, parents: [] });
      return {
        principal: principalUid,
        action: permission,
        resource: resourceUid,
        entities: [...entities.values()],
        context,
      };
    },
  };
}
