export { ensureAdminToken, rotateAdminToken } from './admin-token.ts';
export { CredentialVerifier, type Principal } from './credential-verifier.ts';
export {
  type CreationClaim,
  type CreationClaims,
  type IssuedApiKey,
  type NewTenant,
  TenantAdmin,
  type TenantChange,
  type TenantErasure,
} from './tenant-admin.ts';
