/**
 * The write path behind the stores: the group committer, the platform sealer it tells of each
 * commit, and the relay that publishes committed entries and sealed checkpoints on the bus.
 */

import { join } from 'node:path';
import { nodeHasher } from '@palisade/ledger/node';
import type { Logger } from 'pino';
import { type Bus, LedgerRelay } from '../bus/index.ts';
import { GroupCommitter } from '../commit/index.ts';
import type { Settings } from '../config/index.ts';
import {
  openLedgerKeys,
  type PlatformLedgerKeys,
  PlatformSealer,
  sealBatch,
  WitnessPool,
} from '../ledger/index.ts';
import type { Stores } from '../store/index.ts';
import type { PlatformContext } from './context.ts';
import { SealRequests } from './seal-requests.ts';

/**
 * The platform's ledger signing keys; the first start generates them and says to back them up.
 * Once the platform log holds checkpoints, only the key that signed them (ConfigError otherwise).
 */
export async function loadSigningKeys(
  settings: Settings,
  stores: Stores,
  logger: Logger,
): Promise<PlatformLedgerKeys> {
  const { keys, generated, file } = await openLedgerKeys(settings, stores.platformLog);
  if (generated) {
    logger.warn(
      { file, origin: keys.origin },
      'generated the ledger signing keys: back this file up; verifiers and witnesses trust these keys',
    );
  }
  return keys;
}

/** The relay from the tenants' ledgers to the bus, with its cursor file in the data folder. */
export function openLedgerRelay(
  settings: Settings,
  stores: Stores,
  bus: Bus,
  logger: Logger,
): LedgerRelay {
  return new LedgerRelay({
    bus: bus.platform,
    cursorFile: join(settings.data, 'bus-outbox.db'),
    ledgerOf: async (tenantId) => {
      const tenant = await stores.controlPlane.getTenant(tenantId);
      const shard =
        tenant === undefined || tenant.status === 'deleted'
          ? undefined
          : stores.shards.get(tenant.shard);
      return shard === undefined ? undefined : (await shard.tenant(tenantId)).reader;
    },
    latestCheckpoint: (tenantId) => stores.platformLog.latestTenantCheckpoint(tenantId),
    retryMs: settings.busRetryMs,
    logger,
  });
}

export interface WritePath {
  readonly committer: GroupCommitter;
  readonly sealer: PlatformSealer;
  /** How this process asks the sealer (here, or in the leading worker) to seal a tenant. */
  readonly sealRequests: SealRequests;
  /** Tells the sealer and the relay that the tenant's ledger grew, as each commit does. */
  readonly committed: (tenantId: string) => void;
}

export interface WritePathOptions
  extends Pick<PlatformContext, 'settings' | 'stores' | 'channel' | 'scaleOut' | 'logger'> {
  readonly ledgerKeys: PlatformLedgerKeys;
  readonly relay: LedgerRelay;
}

export function assembleWritePath(options: WritePathOptions): WritePath {
  const { settings, stores, relay, scaleOut, logger } = options;
  const sealer = new PlatformSealer({
    stores,
    keys: options.ledgerKeys,
    witnesses: new WitnessPool(settings.witnesses, nodeHasher, stores.platformLog, logger),
    intervalMs: settings.ledgerSealIntervalMs,
    logger,
    onSealed: (leaves) => relay.checkpointsSealed(leaves),
  });
  const sealRequests = new SealRequests(sealer, options.channel);
  const committed = (tenantId: string) => {
    sealRequests.dirty(tenantId);
    // Scale-out: the leading worker relays, told by the notice `dirty` sends.
    if (!scaleOut) relay.markDirty(tenantId);
  };
  const committer = new GroupCommitter({
    maxBatch: settings.commitMaxBatch,
    maxWaitMs: settings.commitMaxWaitMs,
    seal: sealBatch,
    onCommitted: committed,
  });
  return { committer, sealer, sealRequests, committed };
}
