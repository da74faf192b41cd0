import {
  type Authorizer,
  type Permission,
  type ResourceRef,
  restResource,
  type TenantPrincipal,
} from '../authz/index.ts';
import type { ProblemDetail } from '../errors/index.ts';

/** One permission to decide on one resource, for the field at `path`. */
export interface Check {
  readonly path: string;
  readonly permission: Permission;
  readonly resource: ResourceRef;
}

/**
 * The resource an acting field names by its arguments, as REST names it by path parameters
 * (`collection` or `name` is the collection, `id` the record).
 */
export function resourceOfArguments(
  tenantId: string,
  permission: Permission,
  args: Readonly<Record<string, unknown>>,
): ResourceRef {
  const name = args.collection ?? args.name;
  const params: Record<string, string> = {};
  if (typeof name === 'string') params.name = name;
  if (typeof args.id === 'string') params.id = args.id;
  return restResource(tenantId, permission, '', params);
}

/** Decides each distinct (permission, resource) once; a refusal names every field it hits. */
export async function decide(
  checks: readonly Check[],
  principal: TenantPrincipal,
  authorizer: Authorizer,
  denied: ProblemDetail[],
): Promise<void> {
  const decisions = new Map<string, boolean | Promise<boolean>>();
  for (const check of checks) {
    const key = `${check.permission} ${JSON.stringify(check.resource)}`;
    if (!decisions.has(key))
      decisions.set(key, authorizer.decide(principal, check.permission, check.resource));
  }
  for (const check of checks) {
    const key = `${check.permission} ${JSON.stringify(check.resource)}`;
    if (await decisions.get(key)) continue;
    denied.push({
      path: check.path,
      message: principal.permissions.has(check.permission)
        ? `is refused by the tenant's policies (${check.permission})`
        : `needs ${check.permission}`,
    });
  }
}
