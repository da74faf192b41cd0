import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { PolicyService, RoleService } from '../authz/index.ts';
import type { Settings } from '../config/index.ts';
import { TenantAdmin } from '../control/index.ts';
import { CorsSettings } from '../cors/index.ts';
import { EdgeCredentialSync, EdgeRuleService } from '../edge/index.ts';
import { createGateway, type GatewayOptions } from '../gateway/index.ts';
import { RecordKeys } from '../keys/index.ts';
import { type PlatformLedgerKeys, TenantLedger } from '../ledger/index.ts';
import { type ObjectCaps, planLimits, RequestQuotas, SignInLimits } from '../quotas/index.ts';
import { CollectionService, RecordService, SchemaRegistry } from '../records/index.ts';
import { type Access, forgetCachedTenant } from './access.ts';
import type { PlatformContext } from './context.ts';
import type { Devices } from './devices.ts';
import type { Leases } from './leases.ts';
import type { SealRequests } from './seal-requests.ts';
import type { PlatformErasure } from './tenant-erasure.ts';
import type { TenantKeys } from './tenant-keys.ts';
import type { TenantMemory } from './tenant-memory.ts';

export interface GatewayAssemblyOptions
  extends Pick<
    PlatformContext,
    'settings' | 'stores' | 'locate' | 'committer' | 'metrics' | 'logger'
  > {
  /** The version the OpenAPI document reports. */
  readonly version: string;
  readonly caps: ObjectCaps;
  readonly keys: TenantKeys;
  readonly access: Access;
  readonly devices: Devices;
  /** This process's part in deleting a tenant. */
  readonly erasure: PlatformErasure;
  /** Where the gateway's rate buckets, sign-in buckets and CORS lists are told of deletions. */
  readonly memory: TenantMemory;
  readonly ledgerKeys: PlatformLedgerKeys;
  readonly sealRequests: SealRequests;
  /** The platform admin's tenant service (`tenantAdmin`). */
  readonly tenants: TenantAdmin;
  readonly trustedProxies: readonly string[];
  /** Whether the platform is shutting down. */
  readonly closing: () => boolean;
}

/** The HTTP gateway (REST, GraphQL, the identity provider, edge nodes) over the services. */
export function assembleGateway(options: GatewayAssemblyOptions): Promise<FastifyInstance> {
  const { settings, stores, locate, committer, access, devices, metrics, logger } = options;
  const schemas = new SchemaRegistry();
  return createGateway({
    metrics,
    logger,
    bodyLimit: settings.bodyLimit,
    pageSizeMax: settings.pageSizeMax,
    version: options.version,
    verifier: access.verifier,
    tenants: options.tenants,
    authz: {
      authorizer: access.authorizer,
      roles: new RoleService(locate, committer, access.roleResolver, settings.customRolesMax),
      policies: new PolicyService(locate, committer, access.authorizer),
      policySetMaxChars: settings.policySetMaxChars,
    },
    keys: options.keys.rotation,
    identity: access.identity,
    ...requestLimits(settings, metrics, options.memory),
    trustedProxies: options.trustedProxies,
    cors: {
      settings: corsSettings(options),
      maxAgeSeconds: settings.corsMaxAgeSeconds,
    },
    hstsMaxAgeSeconds: settings.hstsMaxAgeSeconds,
    tls:
      settings.tlsCert === undefined || settings.tlsKey === undefined
        ? undefined
        : { cert: settings.tlsCert, key: settings.tlsKey },
    collections: new CollectionService(locate, committer, schemas, options.caps),
    records: new RecordService(
      locate,
      committer,
      schemas,
      settings.bodyLimit,
      new RecordKeys(options.keys.service),
    ),
    devices: devices.services,
    edge: {
      service: devices.edge,
      credentials: new EdgeCredentialSync(stores.controlPlane.devices),
      batchMaxMessages: settings.edgeBatchMaxMessages,
    },
    edgeRules: new EdgeRuleService({ locate, committer }),
    edgeRpc: { relay: devices.edgeRpc, waitMaxMs: settings.edgeRpcWaitMaxMs },
    users: {
      services: access.users,
      tenantBySlug: (slug) => stores.controlPlane.identity.tenantBySlug(slug),
    },
    ledger: new TenantLedger(
      locate,
      stores.platformLog,
      options.ledgerKeys,
      (tenantId) => options.sealRequests.ensureSealed(tenantId),
      settings.witnessQuorum,
    ),
    graphql: graphqlLimits(settings),
    probes: { ready: () => stores.controlPlane.ping() },
    closing: options.closing,
  });
}

export interface TenantAdminOptions
  extends Pick<GatewayAssemblyOptions, 'stores' | 'committer' | 'access' | 'devices' | 'keys'> {
  readonly erasure: PlatformErasure;
  /** Leases: a creation's claim is the lease `tenant-creation/<id>`. */
  readonly leases: Leases;
  /** Told a tenant's creation finished, as a commit tells the sealer and the relay. */
  readonly onCreated: (tenantId: string) => void;
}

/** The platform admin's tenant service: a tenant's keys and identity go with it. */
export function tenantAdmin(options: TenantAdminOptions): TenantAdmin {
  const { stores, committer, access, devices, keys, leases } = options;
  return new TenantAdmin({
    controlPlane: stores.controlPlane,
    shards: stores.shards,
    committer,
    onCredentialsChanged: (tenantId) => forgetCachedTenant(access, devices.services, tenantId),
    roles: access.roleResolver,
    keys: {
      provision: (tenant) => keys.service.provision(tenant),
      shred: async (tenant) => {
        await keys.shred(tenant);
        await access.identity.shred(tenant);
      },
    },
    erasure: options.erasure,
    claims: { claim: (tenantId) => leases.tryAcquire(`tenant-creation/${tenantId}`) },
    onCreated: options.onCreated,
  });
}

function requestLimits(
  settings: Settings,
  metrics: Registry,
  memory: TenantMemory,
): Pick<GatewayOptions, 'rateLimits' | 'rateLimitRefusalDelayMs' | 'signInLimits'> {
  const rateLimits = new RequestQuotas({
    limitsOf: planLimits(settings),
    maxBuckets: settings.quotaMaxBuckets,
    usageWindowMs: settings.quotaUsageWindowMs,
    metrics,
  });
  const signInLimits = new SignInLimits({
    perMinute: settings.signInAttemptsPerMinute,
    maxBuckets: settings.quotaMaxBuckets,
    metrics,
  });
  memory.hold('request_quotas', {
    entries: () => rateLimits.tenantsHeld,
    deleted: (tenant) => rateLimits.forgetTenant(tenant.id),
  });
  memory.hold('sign_in_buckets', {
    entries: () => signInLimits.buckets,
    deleted: (tenant) => {
      if (tenant.slug !== undefined) signInLimits.forgetTenant(tenant.slug);
    },
  });
  return {
    rateLimits,
    rateLimitRefusalDelayMs: settings.quotaRefusalDelayMs,
    signInLimits,
  };
}

/** The tenants' CORS allow-lists, forgotten (with the preflight answers) as tenants change. */
function corsSettings(options: GatewayAssemblyOptions): CorsSettings {
  const { settings, stores, locate, committer, logger } = options;
  const cors = new CorsSettings({
    store: stores.controlPlane.cors,
    locate,
    committer,
    maxOrigins: settings.corsMaxOrigins,
    ttlMs: settings.authCacheTtlMs,
    cacheMax: settings.authCacheMax,
    missesMax: settings.authCacheMissesMax,
    logger,
  });
  options.memory.hold('cors_lists', {
    entries: () => cors.tenantsHeld,
    deleted: (tenant) => cors.forgetTenant(tenant.id),
    changed: (tenantId) => cors.forgetTenant(tenantId),
  });
  return cors;
}

function graphqlLimits(settings: Settings): GatewayOptions['graphql'] {
  return {
    depthMax: settings.graphqlDepthMax,
    costMax: settings.graphqlCostMax,
    pageSizeMax: settings.pageSizeMax,
    queryMaxLength: settings.graphqlQueryMaxLength,
    queryMaxTokens: settings.graphqlQueryMaxTokens,
    persistedQueriesMax: settings.graphqlPersistedQueriesMax,
  };
}
