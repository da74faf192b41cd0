import type { LedgerRelay } from '../bus/index.ts';
import type { TelemetryRetention } from '../devices/index.ts';
import type { KeyRotation } from '../keys/index.ts';
import type { PlatformSealer } from '../ledger/index.ts';
import type { Stores } from '../store/index.ts';
import type { PlatformContext } from './context.ts';
import type { Leases } from './leases.ts';
import { WorkerRole } from './worker-role.ts';

export interface BackgroundJobOptions
  extends Pick<
    PlatformContext,
    'settings' | 'roles' | 'scaleOut' | 'stores' | 'channel' | 'logger'
  > {
  readonly leases: Leases;
  readonly relay: LedgerRelay;
  readonly sealer: PlatformSealer;
  readonly retention: TelemetryRetention;
  readonly rotation: KeyRotation;
}

/**
 * Starts the worker role when this process runs it (the sealer, retention, key jobs and, in
 * scale-out, the bus relay). Outside scale-out the relay is this process's: it catches up now.
 */
export async function startBackgroundJobs(
  options: BackgroundJobOptions,
): Promise<WorkerRole | undefined> {
  const { scaleOut, stores, relay, logger } = options;
  const worker = options.roles.worker ? workerRole(options) : undefined;
  await worker?.start();
  if (!scaleOut)
    relay
      .start(liveTenantIds(stores))
      .catch((error: unknown) => logger.warn({ err: error }, 'bus: start-up catch-up failed'));
  return worker;
}

function workerRole(options: BackgroundJobOptions): WorkerRole {
  const { settings, stores, relay } = options;
  return new WorkerRole({
    sealer: options.sealer,
    retention: options.retention,
    rotation: options.rotation,
    leases: options.leases,
    channel: options.channel,
    controlPlane: stores.controlPlane,
    intervalMs: settings.ledgerSealIntervalMs,
    logger: options.logger,
    relay: options.scaleOut
      ? {
          markDirty: (tenantId) => relay.markDirty(tenantId),
          catchUp: () => relay.start(liveTenantIds(stores)),
        }
      : undefined,
  });
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
