import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { type Authorizer, PolicyService, type RoleResolver, RoleService } from '../authz/index.ts';
import type { Bus, LedgerRelay } from '../bus/index.ts';
import type { Settings } from '../config/index.ts';
import { ensureAdminToken, TenantAdmin } from '../control/index.ts';
import { CorsSettings } from '../cors/index.ts';
import type { DeviceServices } from '../devices/index.ts';
import { EdgeCredentialSync, EdgeRuleService } from '../edge/index.ts';
import { createGateway } from '../gateway/index.ts';
import { type OpenChannel, openInternalChannel } from '../internal/index.ts';
import { type KeyService, openPlatformKms, RecordKeys } from '../keys/index.ts';
import { type PlatformSealer, TenantLedger } from '../ledger/index.ts';
import type { MqttListener } from '../mqtt/index.ts';
import { ObjectCaps, planLimits, RequestQuotas, SignInLimits } from '../quotas/index.ts';
import {
  CollectionService,
  RecordService,
  SchemaRegistry,
  storeLocator,
} from '../records/index.ts';
import type { Stores } from '../store/index.ts';
import type { UserServices } from '../users/index.ts';
import { assembleAccess } from './access.ts';
import { assembleDevices } from './devices.ts';
import { LocalLeases, PostgresLeases } from './leases.ts';
import { listenApi, listenerOptions, listenUrl, startMqtt } from './listeners.ts';
import { platformLogger } from './logger.ts';
import { type ProcessRoles, processRoles } from './roles.ts';
import { openStorage } from './storage.ts';
import { PlatformErasure } from './tenant-erasure.ts';
import { assembleTenantKeys } from './tenant-keys.ts';
import { WorkerRole } from './worker-role.ts';
import { assembleWritePath, loadSigningKeys, openLedgerRelay } from './write-path.ts';

/** The version reported in the OpenAPI document and logs. */
export const PLATFORM_VERSION = '0.1.0';

/** A running platform: the roles of `settings.role` (every role by default) in this process. */
export interface Platform {
  readonly settings: Settings;
  /** What this process runs (`--role`). */
  readonly roles: ProcessRoles;
  readonly stores: Stores;
  readonly http: FastifyInstance;
  /** `http://host:port` the API listens on, once `listen` resolved. */
  readonly url: string;
  /** Set when this start generated the platform-admin token; print it once. */
  readonly generatedAdminToken: string | undefined;
  /** Seals tenant checkpoints into the signed platform log (every `ledgerSealIntervalMs`). */
  readonly sealer: PlatformSealer;
  /** The event bus: committed writes and sealed checkpoints are published on it. */
  readonly bus: Bus;
  /** Device registry, authenticator, telemetry ingest and RPC queue (the listeners use these). */
  readonly devices: DeviceServices;
  /** The MQTT listener, unless `mqtt` is `off`, `listen` is false, or its default port was taken. */
  readonly mqtt: MqttListener | undefined;
  /** The tenant key hierarchy: KEKs, cached data keys, shredding. */
  readonly keys: KeyService;
  /** Tenant users: their admin service and sign-in (the identity provider's login calls it). */
  readonly users: UserServices;
  /**
   * The one authorization decision (REST, GraphQL, MQTT) and the role resolver every kind of
   * credential turns its role names into permissions with.
   */
  readonly authz: { readonly authorizer: Authorizer; readonly roles: RoleResolver };
  /** Stops taking requests, finishes in-flight writes, closes stores. Idempotent. */
  close(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
  /** Listen on the settings' address (default) or only build the app (tests use `inject`). */
  readonly listen?: boolean;
}

/** Opens the stores, installs the admin token, builds the gateway and (by default) listens. */
export async function startPlatform(
  settings: Settings,
  options: StartOptions = {},
): Promise<Platform> {
  const logger = options.logger ?? platformLogger(settings);
  // Checked before anything opens, so a bad setting cannot leave a half-started platform.
  const roles = processRoles(settings);
  const listeners = listenerOptions(settings);
  const { running, stores, bus } = await openStorage(settings, roles, logger);
  let closing = false;
  let relay: LedgerRelay | undefined;
  let internal: OpenChannel | undefined;
  // Scale-out (PostgreSQL and NATS): other processes may run roles too.
  const scaleOut = settings.database !== undefined && settings.nats !== undefined;
  const leases =
    settings.database === undefined ? new LocalLeases() : new PostgresLeases(settings.database);
  try {
    const { generated } = await ensureAdminToken(stores.controlPlane, settings.adminToken);
    const kms = await openPlatformKms(settings, logger, {
      sealed: (await stores.controlPlane.keys.newestKek())?.sealedSeed,
    });
    const metrics = new Registry();
    internal = scaleOut
      ? await openInternalChannel({
          settings,
          kms,
          sender: { role: roles.name, pid: roles.processId },
          logger,
          metrics,
        })
      : undefined;
    const channel = internal?.channel;
    const ledgerKeys = loadSigningKeys(settings, logger);
    relay = openLedgerRelay(settings, stores, bus, logger);
    const outbox = relay;
    const { committer, sealer, sealRequests } = assembleWritePath({
      settings,
      stores,
      ledgerKeys,
      relay: outbox,
      channel,
      scaleOut,
      logger,
    });
    const keys = assembleTenantKeys({
      settings,
      stores,
      kms,
      committer,
      channel,
      roles,
      scaleOut,
      leases,
      logger,
    });
    const keyService = keys.service;
    const { rotation } = keys;
    const locate = storeLocator(stores.shards);
    let url = '';
    const { roleResolver, authorizer, users, identity, verifier } = assembleAccess({
      settings,
      stores,
      locate,
      committer,
      kms,
      keys: keyService,
      publicUrl: () => settings.publicUrl ?? (url || listenUrl(settings)),
    });
    const schemas = new SchemaRegistry();
    const caps = new ObjectCaps({ limitsOf: planLimits(settings), metrics });
    const collections = new CollectionService(locate, committer, schemas, caps);
    const records = new RecordService(locate, committer, schemas, new RecordKeys(keyService));
    let mqtt: MqttListener | undefined;
    const {
      services: devices,
      edge,
      edgeRpc,
      stopRpcAnswers,
      stopAttributeNotices,
    } = await assembleDevices({
      settings,
      stores,
      locate,
      committer,
      bus,
      kms,
      keys: keyService,
      caps,
      channel,
      mqtt: () => mqtt,
      metrics,
      logger,
    });
    const erasure = new PlatformErasure({
      invalidate: () => {
        verifier.invalidate();
        identity.invalidate();
        devices.authority.invalidate();
      },
      liveStreams: devices.liveStreams,
      mqtt: () => mqtt,
      relay: outbox,
      bus: bus.platform,
      channel,
      logger,
    });
    const stopDeletionNotices = erasure.listen();
    const http = await createGateway({
      metrics,
      logger,
      bodyLimit: settings.bodyLimit,
      pageSizeMax: settings.pageSizeMax,
      version: PLATFORM_VERSION,
      verifier,
      tenants: new TenantAdmin(
        stores.controlPlane,
        stores.shards,
        committer,
        () => {
          verifier.invalidate();
          identity.invalidate();
          devices.authority.invalidate();
        },
        roleResolver,
        {
          provision: (tenant) => keyService.provision(tenant),
          shred: async (tenant) => {
            await keys.shred(tenant);
            await identity.shred(tenant);
          },
        },
        erasure,
      ),
      authz: {
        authorizer,
        roles: new RoleService(locate, committer, roleResolver, settings.customRolesMax),
        policies: new PolicyService(locate, committer, authorizer),
        policySetMaxChars: settings.policySetMaxChars,
      },
      keys: rotation,
      identity,
      rateLimits: new RequestQuotas({
        limitsOf: planLimits(settings),
        maxBuckets: settings.quotaMaxBuckets,
        usageWindowMs: settings.quotaUsageWindowMs,
        metrics,
      }),
      rateLimitRefusalDelayMs: settings.quotaRefusalDelayMs,
      signInLimits: new SignInLimits({
        perMinute: settings.signInAttemptsPerMinute,
        maxBuckets: settings.quotaMaxBuckets,
        metrics,
      }),
      trustedProxies: listeners.trustedProxies,
      cors: {
        settings: new CorsSettings({
          store: stores.controlPlane.cors,
          locate,
          committer,
          maxOrigins: settings.corsMaxOrigins,
          ttlMs: settings.authCacheTtlMs,
          logger,
        }),
        maxAgeSeconds: settings.corsMaxAgeSeconds,
      },
      hstsMaxAgeSeconds: settings.hstsMaxAgeSeconds,
      tls:
        settings.tlsCert === undefined || settings.tlsKey === undefined
          ? undefined
          : { cert: settings.tlsCert, key: settings.tlsKey },
      collections,
      records,
      devices,
      edge: {
        service: edge,
        credentials: new EdgeCredentialSync(stores.controlPlane.devices),
        batchMaxMessages: settings.edgeBatchMaxMessages,
      },
      edgeRules: new EdgeRuleService({ locate, committer }),
      edgeRpc: { relay: edgeRpc, waitMaxMs: settings.edgeRpcWaitMaxMs },
      users: {
        services: users,
        tenantBySlug: (slug) => stores.controlPlane.identity.tenantBySlug(slug),
      },
      ledger: new TenantLedger(
        locate,
        stores.platformLog,
        ledgerKeys,
        (tenantId) => sealRequests.ensureSealed(tenantId),
        settings.witnessQuorum,
      ),
      graphql: {
        depthMax: settings.graphqlDepthMax,
        costMax: settings.graphqlCostMax,
        pageSizeMax: settings.pageSizeMax,
        queryMaxLength: settings.graphqlQueryMaxLength,
        queryMaxTokens: settings.graphqlQueryMaxTokens,
        persistedQueriesMax: settings.graphqlPersistedQueriesMax,
      },
      probes: { ready: () => stores.controlPlane.ping() },
      closing: () => closing,
    });
    const worker = roles.worker
      ? new WorkerRole({
          sealer,
          retention: devices.retention,
          rotation,
          leases,
          channel,
          controlPlane: stores.controlPlane,
          intervalMs: settings.ledgerSealIntervalMs,
          logger,
          relay: scaleOut
            ? {
                markDirty: (tenantId) => outbox.markDirty(tenantId),
                catchUp: () => outbox.start(liveTenantIds(stores)),
              }
            : undefined,
        })
      : undefined;
    await worker?.start();
    if (!scaleOut)
      outbox
        .start(liveTenantIds(stores))
        .catch((error: unknown) => logger.warn({ err: error }, 'bus: start-up catch-up failed'));
    let closed: Promise<void> | undefined;
    const close = () => {
      closed ??= (async () => {
        closing = true;
        edgeRpc.close();
        await mqtt?.close();
        await Promise.race([
          http.close(),
          new Promise((resolve) => setTimeout(resolve, settings.shutdownTimeoutMs).unref()),
        ]);
        await rotation.stop();
        await committer.drain();
        await worker?.stop();
        stopRpcAnswers();
        keys.stopShredNotices();
        stopDeletionNotices?.();
        stopAttributeNotices();
        keys.stopSweep();
        await outbox.stop();
        await internal?.close();
        await leases.close();
        await bus.close();
        await stores.close();
        await running.release();
      })();
      return closed;
    };
    if (options.listen ?? true) {
      try {
        if (roles.api) url = await listenApi(http, settings);
        if (roles.ingest)
          mqtt = await startMqtt(settings, listeners.mqtt, devices, metrics, logger);
      } catch (error) {
        await close().catch(() => undefined);
        throw error;
      }
    }
    return {
      settings,
      roles,
      stores,
      http,
      url,
      generatedAdminToken: generated,
      sealer,
      bus,
      devices,
      mqtt,
      keys: keyService,
      users,
      authz: { authorizer, roles: roleResolver },
      close,
    };
  } catch (error) {
    await relay?.stop().catch(() => undefined);
    await internal?.close().catch(() => undefined);
    await leases.close().catch(() => undefined);
    await bus.close().catch(() => undefined);
    await stores.close().catch(() => undefined);
    await running.release();
    throw error;
  }
}

/** Every tenant that is not deleted, page by page. */
async function* liveTenantIds(stores: Stores): AsyncIterable<string> {
  let after: string | undefined;
  for (;;) {
    const page = await stores.controlPlane.listTenants({ after, limit: 1000 });
    for (const tenant of page) if (tenant.status !== 'deleted') yield tenant.id;
    if (page.length < 1000) return;
    after = page.at(-1)!.id;
  }
}
