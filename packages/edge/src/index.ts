export {
  type CachedDevice,
  CredentialCache,
  CredentialRefresh,
  DEFAULT_REFRESH,
  type DeviceCa,
  type DeviceCredential,
  type EdgeDevice,
  type RefreshSettings,
} from './credentials/index.ts';
export {
  type AcceptMessage,
  type DeviceApi,
  EdgeMqttListener,
  groupCommit,
  type ListenAddress,
  type ListenerEvents,
  type ListenerOptions,
  Refusal,
  type RefusalReason,
  startDeviceApi,
  type TlsListen,
} from './listener/index.ts';
export { type NodeFile, readNodeFile } from './node-file.ts';
export {
  type MessageKind,
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
