import type { Logger } from 'pino';
import { type Bus, openBus } from '../bus/index.ts';
import type { Settings } from '../config/index.ts';
import { acquireRunningLock, openStores, type RunningLock, type Stores } from '../store/index.ts';
import type { ProcessRoles } from './roles.ts';

/** The running lock, the stores and the bus: what the platform holds from start to close. */
export interface Storage {
  readonly running: RunningLock;
  readonly stores: Stores;
  readonly bus: Bus;
}

/** Takes the running lock, then opens the stores and the bus; a failure closes what opened. */
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
  return { running, stores, bus };
}
