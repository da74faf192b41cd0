import { Authorizer, RoleResolver } from '../authz/index.ts';
import { CredentialVerifier } from '../control/index.ts';
import type { DeviceServices } from '../devices/index.ts';
import { DpopProofSweep, IdentityService } from '../identity/index.ts';
import type { KeyService } from '../keys/index.ts';
import { openUserServices, type UserServices } from '../users/index.ts';
import type { PlatformContext } from './context.ts';
import type { TenantMemory } from './tenant-memory.ts';

/** Identity and authorization: who a credential is, and what its roles let it do. */
export interface Access {
  /** Turns the role names of every kind of credential into permissions. */
  readonly roleResolver: RoleResolver;
  /** The one authorization decision (REST, GraphQL, MQTT). */
  readonly authorizer: Authorizer;
  readonly users: UserServices;
  /** One OAuth / OpenID Connect issuer per tenant, its clients and its tokens. */
  readonly identity: IdentityService;
  /** Turns the bearer secrets the API is called with into principals. */
  readonly verifier: CredentialVerifier;
  /** Deletes ended DPoP proofs from the shared store, in a process running the API. */
  readonly proofSweep: DpopProofSweep | undefined;
}

export interface AccessOptions
  extends Pick<
    PlatformContext,
    'settings' | 'roles' | 'stores' | 'locate' | 'committer' | 'kms' | 'metrics' | 'logger'
  > {
  readonly keys: KeyService;
  /** The platform's public URL, the issuer of its tokens. */
  readonly publicUrl: () => string;
}

export function assembleAccess(options: AccessOptions): Access {
  const { settings, stores, locate, committer, kms } = options;
  const { authCacheTtlMs, authCacheMax } = settings;
  const roleResolver = new RoleResolver(stores.shards, authCacheTtlMs, authCacheMax);
  const authorizer = new Authorizer(stores.shards, authCacheTtlMs, authCacheMax, options.metrics);
  const users = openUserServices({
    settings,
    locate,
    committer,
    kms,
    controlPlane: stores.controlPlane,
    keys: options.keys,
    roles: roleResolver,
  });
  const identity = new IdentityService({
    store: stores.controlPlane.identity,
    dpopProofs: stores.controlPlane.dpopProofs,
    shards: stores.shards,
    committer,
    kms,
    publicUrl: options.publicUrl,
    roles: roleResolver,
    signIn: users.authenticator,
    lifetimes: {
      accessTokenSeconds: settings.oauthAccessTokenTtlSeconds,
      refreshTokenSeconds: settings.oauthRefreshTokenTtlSeconds,
      deviceCodeSeconds: settings.oauthDeviceCodeTtlSeconds,
      sessionSeconds: settings.oauthSessionTtlSeconds,
    },
    cacheTtlMs: settings.authCacheTtlMs,
    issuerCacheMax: settings.oauthIssuerCacheMax,
    issuerDirectory: { foundMax: settings.authCacheMax, missingMax: settings.authCacheMissesMax },
    metrics: options.metrics,
  });
  const verifier = new CredentialVerifier({
    controlPlane: stores.controlPlane,
    ttlMs: settings.authCacheTtlMs,
    cacheMax: settings.authCacheMax,
    missesMax: settings.authCacheMissesMax,
    roles: roleResolver,
    metrics: options.metrics,
    tokens: identity.tokens,
  });
  const proofSweep = options.roles.api
    ? new DpopProofSweep({
        store: stores.controlPlane.dpopProofs,
        intervalMs: settings.dpopProofSweepIntervalMs,
        batchMax: settings.dpopProofSweepBatchMax,
        logger: options.logger,
      })
    : undefined;
  return { roleResolver, authorizer, users, identity, verifier, proofSweep };
}

/**
 * Drops what this process cached of one tenant (suspended, resumed, re-planned or deleted):
 * its API keys and device credentials, the issuer directory and verified tokens (whose
 * entries carry the tenant's status), and its custom roles and policies.
 */
export function forgetCachedTenant(
  access: Access,
  devices: DeviceServices,
  tenantId: string,
): void {
  access.verifier.forgetTenant(tenantId);
  access.identity.forgetTenant(tenantId);
  devices.authority.forgetTenant(tenantId);
  access.roleResolver.invalidate(tenantId);
  access.authorizer.invalidate(tenantId);
}

/** Adds the tenants' telemetry buckets, revocation lists and DPoP proofs to `memory`. */
export function holdTenantMemory(
  memory: TenantMemory,
  access: Access,
  devices: DeviceServices,
): void {
  const quotas = devices.telemetry.quotas;
  if (quotas !== undefined)
    memory.hold('telemetry_quotas', {
      entries: () => quotas.tenantsHeld,
      deleted: (tenant) => quotas.forgetTenant(tenant.id),
    });
  const { identity } = access;
  memory.hold('revocation_lists', {
    entries: () => identity.held.revocationLists,
    deleted: (tenant) => identity.forgetDeleted(tenant.id),
  });
  const { authorizer } = access;
  memory.hold('authorizer', {
    entries: () => authorizer.entriesHeld,
    deleted: (tenant) => authorizer.forgetDeleted(tenant.id),
  });
  memory.hold('dpop_proofs', {
    entries: () => identity.held.dpopProofs,
    // Forgotten with the revocation lists (IdentityService.forgetDeleted).
    deleted: () => undefined,
  });
}
