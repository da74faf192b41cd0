export {
  Outbox,
  OutboxFullError,
  type OutboxMessage,
  type PendingBatch,
  type Priority,
} from './outbox.ts';
export { DEFAULT_SYNC, type NodeIdentity, SyncLoop, type SyncSettings } from './sync.ts';
