export {
  type CachedDevice,
  CredentialCache,
  type DeviceCa,
  type DeviceCredential,
} from './credential-cache.ts';
export {
  CredentialRefresh,
  DEFAULT_REFRESH,
  type RefreshEvents,
  type RefreshSettings,
} from './credential-refresh.ts';
export { type CredentialStatus, readCredentialStatus } from './credential-status.ts';
export { authenticateCertificate, authenticateDevice, type EdgeDevice } from './device-auth.ts';
