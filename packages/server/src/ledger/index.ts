export {
  type LedgerKeyReplacement,
  ledgerKeyFile,
  openLedgerKeys,
  replaceLedgerKey,
} from './ledger-key-guard.ts';
export { loadLedgerKeys, type PlatformLedgerKeys } from './ledger-keys.ts';
export { PlatformSealer, type PlatformSealerOptions, tenantOrigin } from './platform-sealer.ts';
export { sealBatch } from './seal-batch.ts';
export {
  type CheckpointView,
  type ExportReads,
  LEDGER_PAGE_MAX,
  type PlatformAnchor,
  TenantLedger,
} from './tenant-ledger.ts';
export { WitnessPool } from './witness-client.ts';
