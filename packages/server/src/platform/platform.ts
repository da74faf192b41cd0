import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Authorizer, RoleResolver } from '../authz/index.ts';
import type { Bus, LedgerRelay } from '../bus/index.ts';
import type { Settings } from '../config/index.ts';
import { ensureAdminToken, type TenantAdmin } from '../control/index.ts';
import type { DeviceServices } from '../devices/index.ts';
import { type OpenChannel, openInternalChannel } from '../internal/index.ts';
import { type KeyService, openPlatformKms } from '../keys/index.ts';
import type { PlatformSealer } from '../ledger/index.ts';
import type { MqttListener } from '../mqtt/index.ts';
import { ObjectCaps, planLimits } from '../quotas/index.ts';
import { storeLocator } from '../records/index.ts';
import type { Stores } from '../store/index.ts';
import type { UserServices } from '../users/index.ts';
import { assembleAccess, forgetCachedTenant, holdTenantMemory } from './access.ts';
import { startBackgroundJobs } from './background-jobs.ts';
import type { PlatformContext } from './context.ts';
import { assembleDevices } from './devices.ts';
import { assembleGateway, tenantAdmin } from './gateway.ts';
import { listenApi, listenerOptions, listenUrl, startMqtt } from './listeners.ts';
import { platformLogger } from './logger.ts';
import { type ProcessRoles, processRoles } from './roles.ts';
import { openStorage } from './storage.ts';
import { PlatformErasure } from './tenant-erasure.ts';
import { assembleTenantKeys } from './tenant-keys.ts';
import { TenantMemory } from './tenant-memory.ts';
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
  const { running, stores, bus, leases } = await openStorage(settings, roles, logger);
  let closing = false;
  let relay: LedgerRelay | undefined;
  let internal: OpenChannel | undefined;
  // Scale-out (PostgreSQL and NATS): other processes may run roles too.
  const scaleOut = settings.database !== undefined && settings.nats !== undefined;
  try {
    const { generated } = await ensureAdminToken(stores.controlPlane, settings.adminToken);
    const kms = await openPlatformKms(settings, logger, {
      sealed: (await stores.controlPlane.keys.newestKek())?.sealedSeed,
    });
    const metrics = new Registry();
    const sender = { role: roles.name, pid: roles.processId };
    internal = scaleOut
      ? await openInternalChannel({ settings, kms, sender, logger, metrics })
      : undefined;
    const channel = internal?.channel;
    const ledgerKeys = await loadSigningKeys(settings, stores, logger);
    relay = openLedgerRelay(settings, stores, bus, logger);
    const outbox = relay;
    const base = { settings, roles, scaleOut, stores, bus, kms, channel, metrics, logger };
    const writes = assembleWritePath({ ...base, ledgerKeys, relay: outbox });
    const { committer } = writes;
    const context: PlatformContext = { ...base, committer, locate: storeLocator(stores.shards) };
    const keys = assembleTenantKeys({ ...context, leases });
    let url = '';
    const access = assembleAccess({
      ...context,
      keys: keys.service,
      publicUrl: () => settings.publicUrl ?? (url || listenUrl(settings)),
    });
    const caps = new ObjectCaps({ limitsOf: planLimits(settings), metrics });
    let mqtt: MqttListener | undefined;
    const devices = await assembleDevices({
      ...context,
      keys: keys.service,
      caps,
      mqtt: () => mqtt,
    });
    const memory = new TenantMemory(metrics);
    holdTenantMemory(memory, access, devices.services);
    const erasure = new PlatformErasure({
      forgetCached: (tenantId) => forgetCachedTenant(access, devices.services, tenantId),
      memory,
      liveStreams: devices.services.liveStreams,
      mqtt: () => mqtt,
      relay: outbox,
      bus: bus.platform,
      channel,
      logger,
    });
    const stopDeletionNotices = erasure.listen();
    const tenants = tenantAdmin({
      ...context,
      keys,
      access,
      devices,
      erasure,
      leases,
      onCreated: writes.committed,
    });
    const http = await assembleGateway({
      ...context,
      version: PLATFORM_VERSION,
      caps,
      keys,
      access,
      devices,
      erasure,
      memory,
      ledgerKeys,
      sealRequests: writes.sealRequests,
      tenants,
      trustedProxies: listeners.trustedProxies,
      closing: () => closing,
    });
    const worker = await startBackgroundJobs({
      ...context,
      leases,
      relay: outbox,
      sealer: writes.sealer,
      retention: devices.services.retention,
      rotation: keys.rotation,
    });
    access.proofSweep?.start();
    await recoverCreations(tenants, logger);
    let closed: Promise<void> | undefined;
    const close = () => {
      closed ??= (async () => {
        closing = true;
        devices.edgeRpc.close();
        await mqtt?.close();
        await Promise.race([
          http.close(),
          new Promise((resolve) => setTimeout(resolve, settings.shutdownTimeoutMs).unref()),
        ]);
        await keys.rotation.stop();
        await committer.drain();
        await worker?.stop();
        await access.proofSweep?.stop();
        devices.stopRpcAnswers();
        keys.stopKeyNotices();
        stopDeletionNotices?.();
        devices.stopAttributeNotices();
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
          mqtt = await startMqtt(
            settings,
            listeners.mqtt,
            devices.services,
            access.authorizer,
            metrics,
            logger,
          );
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
      sealer: writes.sealer,
      bus,
      devices: devices.services,
      mqtt,
      keys: keys.service,
      users: access.users,
      authz: { authorizer: access.authorizer, roles: access.roleResolver },
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

/**
 * Takes back the tenant creations a process killed part-way left (hidden, holding their
 * slug). One that fails now is left for the next start or the next creation of its slug.
 */
async function recoverCreations(tenants: TenantAdmin, logger: Logger): Promise<void> {
  try {
    for (const tenant of await tenants.recoverCreations())
      logger.warn(
        {
          tenantId: tenant.id,
          slug: tenant.slug,
          shard: tenant.shard,
          startedAt: tenant.createdAt,
        },
        'removed a tenant whose creation a stopped process left unfinished; its slug is free',
      );
  } catch (error) {
    logger.warn(
      { err: error },
      'unfinished tenant creations could not be removed; the next start, or the next creation of their slug, retries',
    );
  }
}
