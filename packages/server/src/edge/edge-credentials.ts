import { createHash, randomBytes } from 'node:crypto';
import { isUuid } from '../ids/index.ts';

/**
 * Edge secrets: `pe_<tenant>.<secret>` (one-time enrollment token) and `pn_<tenant>.<secret>`
 * (node credential), 256 random bits each. The tenant id is only a routing hint to the
 * tenant's store: the credential is valid only if its SHA-256 is stored there, so the
 * tenant still comes from a verified credential. Only the hash is ever stored.
 */
export type EdgeSecretKind = 'pe' | 'pn';

export function newEdgeSecret(kind: EdgeSecretKind, tenantId: string): string {
  return `${kind}_${tenantId}.${randomBytes(32).toString('base64url')}`;
}

export function hashEdgeSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** The tenant an edge secret names, or undefined when it is not one of `kind`. */
export function edgeSecretTenant(kind: EdgeSecretKind, secret: string): string | undefined {
  const match = /^(p[en])_([0-9a-f-]{36})\.[A-Za-z0-9_-]{43}$/.exec(secret);
  if (match === null || match[1] !== kind || !isUuid(match[2]!)) return undefined;
  return match[2];
}
