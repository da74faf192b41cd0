import type { Kms } from '@palisade/crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Bus } from '../bus/index.ts';
import type { GroupCommitter } from '../commit/index.ts';
import type { Settings } from '../config/index.ts';
import type { InternalChannel } from '../internal/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { Stores } from '../store/index.ts';
import type { ProcessRoles } from './roles.ts';

/**
 * What the platform's assembly steps share once the stores, the master key and the write path
 * are open; each step names the part it uses.
 */
export interface PlatformContext {
  readonly settings: Settings;
  readonly roles: ProcessRoles;
  /** Scale-out (PostgreSQL and NATS): other processes may run roles too. */
  readonly scaleOut: boolean;
  readonly stores: Stores;
  readonly bus: Bus;
  readonly kms: Kms;
  /** Scale-out: notices and requests between the processes. */
  readonly channel: InternalChannel | undefined;
  readonly committer: GroupCommitter;
  readonly locate: TenantStoreLocator;
  readonly metrics: Registry;
  readonly logger: Logger;
}
