export { type NodeFile, readNodeFile } from './node-file.ts';
export {
  OUTBOX_BUSY_TIMEOUT_MS,
  Outbox,
  OutboxFullError,
  type OutboxMessage,
  type PendingBatch,
  type Priority,
} from './outbox.ts';
export { type OutboxStatus, readOutboxStatus } from './outbox-status.ts';
export {
  DEFAULT_SYNC,
  type NodeIdentity,
  type SyncEvents,
  SyncLoop,
  type SyncSettings,
} from './sync.ts';
