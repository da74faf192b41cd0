import type {
  IssuerKeyRow,
  OAuthClientRow,
  OidcArtifact,
  RevocationRow,
} from './identity-types.ts';
import { iso, json } from './row-values.ts';

/** The tenant issuers' tables, in the order a tenant's deletion empties them. */
export const ISSUER_TABLES = ['oauth_clients', 'oidc_keys', 'oidc_artifacts', 'oidc_revocations'];
export const CLIENT_COLUMNS =
  'id, tenant_id, name, kind, secret_hash, redirect_uris, roles, token_algorithm, created_at';
export const KEY_COLUMNS =
  'tenant_id, kid, use, alg, public_jwk, sealed_private, created_at, retired_at';
export const ARTIFACT_COLUMNS =
  'model, id, payload, grant_id, user_code, uid, client_id, expires_at';
/** The column each way of finding an artifact reads. */
export const LOOKUP_COLUMN = { id: 'id', uid: 'uid', userCode: 'user_code' } as const;

/** An OAuth client row as either backend returns it (arrays as JSON text or as arrays). */
export interface ClientDbRow {
  id: string;
  tenant_id: string;
  name: string;
  kind: 'service' | 'user';
  secret_hash: string | null;
  redirect_uris: string | string[];
  roles: string | string[];
  token_algorithm: string;
  created_at: string | Date;
}

/** A signing or cookie key row as either backend returns it. */
export interface KeyDbRow {
  tenant_id: string;
  kid: string;
  use: 'sig' | 'cookie';
  alg: string;
  public_jwk: string;
  sealed_private: Uint8Array;
  created_at: string | Date;
  retired_at: string | Date | null;
}

/** A protocol artifact row as either backend returns it (`expires_at` is a bigint on PostgreSQL). */
export interface ArtifactDbRow {
  model: string;
  id: string;
  payload: string | Record<string, unknown>;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  client_id: string | null;
  expires_at: string | number | null;
}

export function toClient(row: ClientDbRow): OAuthClientRow {
  return {
    tenantId: row.tenant_id,
    id: row.id,
    name: row.name,
    kind: row.kind,
    secretHash: row.secret_hash,
    redirectUris: json<string[]>(row.redirect_uris),
    roles: json<string[]>(row.roles),
    tokenAlgorithm: row.token_algorithm,
    createdAt: iso(row.created_at),
  };
}

export function toKey(row: KeyDbRow): IssuerKeyRow {
  return {
    tenantId: row.tenant_id,
    kid: row.kid,
    use: row.use,
    alg: row.alg,
    publicJwk: row.public_jwk,
    sealedPrivate: new Uint8Array(row.sealed_private),
    createdAt: iso(row.created_at),
    retiredAt: row.retired_at === null ? null : iso(row.retired_at),
  };
}

export function toArtifact(row: ArtifactDbRow): OidcArtifact {
  return {
    model: row.model,
    id: row.id,
    payload: json<Record<string, unknown>>(row.payload),
    grantId: row.grant_id,
    userCode: row.user_code,
    uid: row.uid,
    clientId: row.client_id,
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
  };
}

/** Parameters of a client insert, in CLIENT_COLUMNS order. */
export function clientParams(row: OAuthClientRow) {
  return [
    row.id,
    row.tenantId,
    row.name,
    row.kind,
    row.secretHash,
    JSON.stringify(row.redirectUris),
    JSON.stringify(row.roles),
    row.tokenAlgorithm,
    row.createdAt,
  ] as const;
}

/** Parameters of an artifact upsert, in ARTIFACT_COLUMNS order after the tenant id. */
export function artifactParams(tenantId: string, a: OidcArtifact) {
  return [
    tenantId,
    a.model,
    a.id,
    JSON.stringify(a.payload),
    a.grantId,
    a.userCode,
    a.uid,
    a.clientId,
    a.expiresAt,
  ] as const;
}

/** Parameters of a revocation insert: tenant, kind, value, expiry. */
export function revocationParams(tenantId: string, r: RevocationRow) {
  return [tenantId, r.kind, r.value, r.expiresAt] as const;
}
