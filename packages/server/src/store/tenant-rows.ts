import { PalisadeError } from '../errors/index.ts';
import type { Tenant, TenantStatus } from '../tenancy/index.ts';
import { iso } from './row-values.ts';

/** The control plane's key for the platform-admin token's hash. */
export const ADMIN_TOKEN_KEY = 'admin_token_sha256';
/**
 * The control-plane tables holding a tenant's rows besides its own: what erasing a deleted
 * tenant empties (API keys, device credential lookups, device CAs, CORS origins, key jobs and
 * KEKs, and its OIDC issuer's clients, keys, grants and revocations).
 */
export const TENANT_CONTROL_TABLES = [
  'api_keys',
  'device_credentials',
  'tenant_cas',
  'tenant_cors_origins',
  'pending_key_jobs',
  'tenant_keks',
  'oauth_clients',
  'oidc_keys',
  'oidc_artifacts',
  'oidc_revocations',
] as const;

/**
 * The condition a tenant row must meet to be shown (`tenants` not aliased): its creation
 * finished. A tenant being created holds its slug and counts on its shard, nothing more.
 */
export const CREATED_TENANT =
  'NOT EXISTS (SELECT 1 FROM tenant_creations c WHERE c.tenant_id = tenants.id)';

/** The tenant columns, in the order every tenant query selects them. */
export const TENANT_COLUMNS = 'id, slug, name, plan, status, shard, created_at, updated_at';

/** A tenant row as either backend returns it: SQLite gives ISO text, PostgreSQL a Date. */
export interface TenantDbRow {
  id: string;
  slug: string;
  name: string;
  plan: string;
  status: TenantStatus;
  shard: string;
  created_at: string | Date;
  updated_at: string | Date;
}

export function toTenant(row: TenantDbRow): Tenant {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    plan: row.plan,
    status: row.status,
    shard: row.shard,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** Parameters of a tenant insert, in TENANT_COLUMNS order. */
export function tenantParams(tenant: Tenant) {
  return [
    tenant.id,
    tenant.slug,
    tenant.name,
    tenant.plan,
    tenant.status,
    tenant.shard,
    tenant.createdAt,
    tenant.updatedAt,
  ] as const;
}

/** The refusal of a dropped tenant, to a caller that saw it live before it was dropped. */
export function droppedTenant(tenantId: string, shard: string): PalisadeError {
  return new PalisadeError(
    'PALISADE_TENANT_DELETED',
    `tenant ${tenantId} was dropped from shard ${shard}`,
  );
}
