/**
 * The witness: an independent process that cosigns the platform's checkpoints (C2SP
 * tlog-witness) and refuses any that do not extend what it cosigned before.
 */
export {
  parseListen,
  type RunningWitness,
  startWitness,
  type WitnessConfig,
} from './start-witness.ts';
export {
  createWitnessKeyFile,
  loadWitnessKeys,
  WITNESS_KEY_FORMAT,
  type WitnessKeys,
  witnessKeysFromSeeds,
} from './witness-keys.ts';
export { parseWitnessLogs } from './witness-logs.ts';
export {
  KEEP_ALIVE_TIMEOUT_MS,
  listenWitness,
  MAX_REQUEST_BYTES,
  REQUEST_TIMEOUT_MS,
  SHUTDOWN_TIMEOUT_MS,
  type WitnessServer,
  type WitnessServerOptions,
} from './witness-server.ts';
export {
  MAX_PENDING_PER_ORIGIN,
  TLOG_SIZE_CONTENT_TYPE,
  Witness,
  type WitnessOptions,
  type WitnessReply,
} from './witness-service.ts';
export { type StoredCheckpoint, WitnessState } from './witness-state.ts';
