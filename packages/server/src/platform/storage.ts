import type { Logger } from 'pino';
import { type Bus, openBus } from '../bus/index.ts';
import type { Settings } from '../config/index.ts';
import { acquireRunningLock, openStores, type RunningLock, type Stores } from '../store/index.ts';
import { type Leases, LocalLeases, PostgresLeases } from './leases.ts';
import type { ProcessRoles } from './roles.ts';

/** What the platform holds from start to close: the running lock, the stores, the bus, leases. */
export interface Storage {
  readonly running: RunningLock;
  readonly stores: Stores;
  readonly bus: Bus;
  /** Leases on the workers' jobs: held in PostgreSQL when there is one, else always granted. */
  readonly leases: Leases;
}

/** Takes the running lock, then opens the stores, the bus and the leases; a failure closes them. */
export async function openStorage(
  settings: Settings,
  roles: ProcessRoles,
  logger: Logger,
): Promise<Storage> {
  const running = await acquireRunningLock(settings, 'shared', {
    ownDataFolder: roles.ownsDataFolder,
  });
  const stores = await openStores(settings).catch(async (error: unknown) => {
    await running.release();
    throw error;
  });
  const bus = await openBus(settings, logger).catch(async (error: unknown) => {
    await stores.close().catch(() => undefined);
    await running.release();
    throw error;
  });
  const leases =
    settings.database === undefined ? new LocalLeases() : new PostgresLeases(settings.database);
  return { running, stores, bus, leases };
}
