import { DataKeyCache } from '@palisade/crypto';
import { KeyRotation, KeyService } from '../keys/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import { TIMER_MAX_MS } from '../timers/index.ts';
import type { PlatformContext } from './context.ts';
import type { Leases } from './leases.ts';

/** Shortest interval between sweeps of expired keys, however short their time limit. */
const KEY_SWEEP_MIN_MS = 100;

export interface TenantKeyOptions
  extends Pick<
    PlatformContext,
    'settings' | 'stores' | 'kms' | 'committer' | 'channel' | 'roles' | 'scaleOut' | 'logger'
  > {
  readonly leases: Leases;
}

/** The tenant key hierarchy, its rotation jobs, and its notices to the other processes. */
export interface TenantKeys {
  readonly service: KeyService;
  readonly rotation: KeyRotation;
  /** Shreds the tenant's keys, then tells the other processes to drop the ones they cached. */
  shred(tenant: Tenant): Promise<void>;
  /** Stops listening for other processes' shredding and retirement notices. */
  stopKeyNotices(): void;
  stopSweep(): void;
}

export function assembleTenantKeys(options: TenantKeyOptions): TenantKeys {
  const { settings, channel, logger } = options;
  // The service tells the rotation, made with it, when a version is worn.
  let rotation: KeyRotation | undefined;
  const service = keyService(options, (tenant, version) => rotation?.renew(tenant, version));
  rotation = keyRotation(options, service);
  const stopShredNotice = channel?.subscribe('keys.shred', [], (payload) => {
    const { tenantId } = payload as { tenantId?: unknown };
    if (typeof tenantId === 'string') service.dropShredded(tenantId);
  });
  const stopRetiredNotice = channel?.subscribe('keys.retired', [], (payload) => {
    const { tenantId } = payload as { tenantId?: unknown };
    if (typeof tenantId === 'string') service.forget(tenantId);
  });
  channel?.onReconnect(() => service.forgetAll());
  // An expired key is destroyed within half its time limit even when no request comes; a
  // half limit longer than a timer holds sweeps more often, which keeps that promise.
  const sweep = setInterval(
    () => service.sweep(),
    Math.min(Math.max(settings.dataKeyCacheTtlMs / 2, KEY_SWEEP_MIN_MS), TIMER_MAX_MS),
  );
  sweep.unref();
  return {
    service,
    rotation,
    shred: async (tenant) => {
      try {
        await service.shred(tenant);
      } finally {
        await channel
          ?.publish('keys.shred', [], { tenantId: tenant.id })
          .catch((error: unknown) =>
            logger.warn(
              { err: error, tenantId: tenant.id },
              'keys: telling the other processes of a shredding failed; their cached keys expire',
            ),
          );
      }
    },
    stopKeyNotices: () => {
      stopShredNotice?.();
      stopRetiredNotice?.();
    },
    stopSweep: () => clearInterval(sweep),
  };
}

function keyService(
  { settings, stores, kms, committer }: TenantKeyOptions,
  rotateDue: (tenant: Tenant, version: number) => void,
): KeyService {
  return new KeyService({
    kms,
    controlPlane: stores.controlPlane,
    shards: stores.shards,
    committer,
    cache: new DataKeyCache({
      maxEntries: settings.dataKeyCacheMax,
      ttlMs: settings.dataKeyCacheTtlMs,
    }),
    metaTtlMs: settings.dataKeyCacheTtlMs,
    metaMax: settings.dataKeyCacheMax,
    rotateAt: settings.dataKeyRotateEncryptions,
    encryptionBlock: settings.dataKeyEncryptionBlock,
    rotateDue,
  });
}

function keyRotation(options: TenantKeyOptions, keys: KeyService): KeyRotation {
  const { settings, roles, scaleOut, leases, channel, logger } = options;
  return new KeyRotation({
    keys,
    committer: options.committer,
    controlPlane: options.stores.controlPlane,
    batchSize: settings.reencryptBatchSize,
    logger: options.logger,
    // Scale-out: a worker claims a tenant's job; the other roles hand jobs to the workers.
    claim:
      roles.worker && scaleOut ? (tenantId) => leases.tryAcquire(`key-job/${tenantId}`) : undefined,
    dispatch: roles.worker
      ? undefined
      : (tenant, jobId) =>
          void channel
            ?.publish('keys.job', [], { tenantId: tenant.id, jobId })
            .catch(() => undefined),
    announceRetired: (tenantId) =>
      void channel
        ?.publish('keys.retired', [], { tenantId })
        .catch((error: unknown) =>
          logger.warn(
            { err: error, tenantId },
            'keys: telling the other processes of a retirement failed; their cached keys expire',
          ),
        ),
  });
}
