/**
 * @palisade/server — the Palisade platform: settings, stores, tenancy, the gateway.
 * The public face is what the CLI and tests need; every other module stays internal.
 */
export {
  ConfigError,
  loadSettings,
  SETTINGS,
  type SettingName,
  type SettingSources,
  type Settings,
} from './config/index.ts';
export { rotateAdminToken } from './control/index.ts';
export {
  ERROR_CODES,
  type ErrorCode,
  PalisadeError,
  type Problem,
  problemType,
} from './errors/index.ts';
export { revokeCookieSecrets, rotateCookieSecrets } from './identity/index.ts';
export {
  type KeyJobView,
  type KeyStatus,
  type MasterRotationResult,
  masterKeyFile,
  rotatePlatformMasterKey,
} from './keys/index.ts';
export { type LedgerKeyReplacement, replaceLedgerKey } from './ledger/index.ts';
export {
  PLATFORM_VERSION,
  type Platform,
  type StartOptions,
  startPlatform,
} from './platform/index.ts';
export {
  BackupError,
  type BackupManifest,
  type BackupProgress,
  backupPlatform,
  openStores,
  restorePlatform,
  type Stores,
} from './store/index.ts';
export type { Tenant, TenantStatus } from './tenancy/index.ts';
export {
  createWitnessKeyFile,
  loadWitnessKeys,
  type RunningWitness,
  startWitness,
  WITNESS_KEY_FORMAT,
  type WitnessConfig,
  type WitnessKeys,
} from './witness/index.ts';
