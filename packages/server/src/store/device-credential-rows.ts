import type { TenantStatus } from '../tenancy/index.ts';
import type { DeviceCredentialMatch, DeviceCredentialRow, TenantCaRow } from './device-types.ts';
import { iso } from './row-values.ts';

/** The device-credential columns, in the order every credential query selects them. */
export const CREDENTIAL_COLUMNS =
  'id, tenant_id, device_id, kind, lookup, secret_hash, client_id, created_at';

/** The owning tenant's columns a credential match selects beside `c.*`, from `tenants t`. */
export const MATCH_TENANT_COLUMNS = `t.slug AS t_slug, t.name AS t_name, t.plan AS t_plan, t.status AS t_status,
  t.shard AS t_shard, t.created_at AS t_created_at, t.updated_at AS t_updated_at`;

/** A device-credential row as either backend returns it. */
export interface CredentialDbRow {
  id: string;
  tenant_id: string;
  device_id: string | null;
  kind: DeviceCredentialRow['kind'];
  lookup: string;
  secret_hash: string | null;
  client_id: string | null;
  created_at: string | Date;
}

/** A credential row joined with its tenant's MATCH_TENANT_COLUMNS. */
export interface MatchDbRow extends CredentialDbRow {
  t_slug: string;
  t_name: string;
  t_plan: string;
  t_status: TenantStatus;
  t_shard: string;
  t_created_at: string | Date;
  t_updated_at: string | Date;
}

/** A tenant CA row as either backend returns it. */
export interface TenantCaDbRow {
  id: string;
  tenant_id: string;
  pem: string;
  fingerprint: string;
  created_at: string | Date;
}

export function toCredential(row: CredentialDbRow): DeviceCredentialRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    deviceId: row.device_id,
    kind: row.kind,
    lookup: row.lookup,
    secretHash: row.secret_hash,
    clientId: row.client_id,
    createdAt: iso(row.created_at),
  };
}

export function toMatch(row: MatchDbRow): DeviceCredentialMatch {
  return {
    credential: toCredential(row),
    tenant: {
      id: row.tenant_id,
      slug: row.t_slug,
      name: row.t_name,
      plan: row.t_plan,
      status: row.t_status,
      shard: row.t_shard,
      createdAt: iso(row.t_created_at),
      updatedAt: iso(row.t_updated_at),
    },
  };
}

export function toTenantCa(row: TenantCaDbRow): TenantCaRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    pem: row.pem,
    fingerprint: row.fingerprint,
    createdAt: iso(row.created_at),
  };
}

/** Parameters of a credential insert, in CREDENTIAL_COLUMNS order. */
export function credentialParams(row: DeviceCredentialRow) {
  return [
    row.id,
    row.tenantId,
    row.deviceId,
    row.kind,
    row.lookup,
    row.secretHash,
    row.clientId,
    row.createdAt,
  ] as const;
}
