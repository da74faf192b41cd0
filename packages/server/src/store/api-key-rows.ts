import { iso, json } from './row-values.ts';
import { TENANT_COLUMNS, type TenantDbRow, toTenant } from './tenant-rows.ts';
import type { ApiKeyRow, StoredCredential } from './types.ts';

/** The API-key columns, in the order every key query selects them. */
export const API_KEY_COLUMNS = 'id, tenant_id, name, secret_hash, roles, created_at, revoked_at';

/** What a credential lookup selects from `api_keys k JOIN tenants t`: the key, then its tenant. */
export const KEY_MATCH_COLUMNS = `k.id AS key_id, k.roles AS key_roles, ${TENANT_COLUMNS.split(', ')
  .map((column) => `t.${column}`)
  .join(', ')}`;

/** An API-key row as either backend returns it (roles as JSON text or as an array). */
export interface ApiKeyDbRow {
  id: string;
  tenant_id: string;
  name: string;
  secret_hash: string;
  roles: string | string[];
  created_at: string | Date;
  revoked_at: string | Date | null;
}

/** A KEY_MATCH_COLUMNS row as either backend returns it. */
export interface KeyMatchDbRow extends TenantDbRow {
  key_id: string;
  key_roles: string | string[];
}

export function toApiKey(row: ApiKeyDbRow): ApiKeyRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    secretHash: row.secret_hash,
    roles: json(row.roles),
    createdAt: iso(row.created_at),
    revokedAt: row.revoked_at === null ? null : iso(row.revoked_at),
  };
}

export function toKeyCredential(row: KeyMatchDbRow): StoredCredential {
  return { kind: 'api-key', keyId: row.key_id, tenant: toTenant(row), roles: json(row.key_roles) };
}

/** Parameters of a key insert, in API_KEY_COLUMNS order. */
export function apiKeyParams(key: ApiKeyRow) {
  return [
    key.id,
    key.tenantId,
    key.name,
    key.secretHash,
    JSON.stringify(key.roles),
    key.createdAt,
    key.revokedAt,
  ] as const;
}
