/**
 * `@palisade/ledger`: Merkle log math, checkpoints, signed notes, proofs and an offline
 * verifier. Pure and browser-safe; Node providers live in `@palisade/ledger/node`.
 */
export type {
  BundleProgress,
  BundleSummary,
  LedgerBundle,
  VerifyBundleOptions,
} from './bundle/bundle.ts';
export {
  type AcceptedKeyChange,
  followKeyChanges,
  type KeyChange,
  type KeyChangeStep,
  verifyKeyChange,
} from './bundle/key-change.ts';
export {
  type OpenedPlatformCheckpoint,
  openPlatformCheckpoint,
} from './bundle/platform-checkpoint.ts';
export { verifyBundle } from './bundle/verify-bundle.ts';
export { type Checkpoint, formatCheckpoint, parseCheckpoint } from './checkpoint/checkpoint.ts';
export { fromBase64, fromBase64Url, toBase64, toBase64Url } from './encoding/base64.ts';
export { equalBytes, fromHex, toHex, utf8 } from './encoding/bytes.ts';
export {
  type BatchHeader,
  batchRoot,
  decodeBatchLeaf,
  encodeBatchLeaf,
  validateBatchHeader,
} from './entry/batch.ts';
export { commitState, MIN_SALT_BYTES, verifyStateCommitment } from './entry/commitment.ts';
export {
  encodeEntry,
  entryHash,
  isUtcMillis,
  type LedgerEntry,
  validateEntry,
} from './entry/entry.ts';
export {
  isLedgerError,
  LEDGER_ERROR_CODES,
  LedgerError,
  type LedgerErrorCode,
  type LedgerErrorDetails,
} from './errors.ts';
export { canonicalJson, MAX_JSON_DEPTH, parseCanonicalJson } from './json/canonical.ts';
export { type AppendResult, appendLeaves } from './log/append.ts';
export { MemoryHashStore } from './log/memory-store.ts';
export { MerkleLog } from './log/merkle-log.ts';
export { consistencyProof, inclusionProof, treeRoot } from './log/read.ts';
export type { HashReader, NodeKey, TreeNode } from './log/types.ts';
export { HASH_SIZE, type MerkleHasher, merkleHasher, type Sha256 } from './merkle/hasher.ts';
export { rootFromLeafHashes } from './merkle/tree.ts';
export {
  cosignatureTimestamp,
  ed25519CosignatureMessage,
  mldsa44CosignatureMessage,
} from './note/cosignature.ts';
export {
  formatSignatureLine,
  isValidKeyName,
  MAX_NOTE_SIGNATURES,
  type OpenedNote,
  openNote,
  type ParsedNote,
  parseNote,
  type SignNoteOptions,
  signatureLines,
  signNote,
} from './note/signed-note.ts';
export {
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  SIGNATURE_TYPES,
  type SignatureType,
  type SignOptions,
} from './note/types.ts';
export {
  computeKeyId,
  createVerifier,
  formatVerifierKey,
  PUBLIC_KEY_SIZES,
  parseVerifierKey,
  type VerifyFn,
  type VerifyProvider,
} from './note/verifier.ts';
export { rootFromConsistencyProof, verifyConsistency } from './proof/consistency.ts';
export { rootFromInclusionProof, verifyInclusion } from './proof/inclusion.ts';
export {
  type RecordProof,
  type RecordProofKeys,
  type VerifiedRecord,
  verifyRecordProof,
} from './record/record-proof.ts';
export {
  decodeEntryBundle,
  encodeEntryBundle,
  MAX_BUNDLED_ENTRY,
  readTile,
  tilesToPublish,
} from './tiles/tile-data.ts';
export {
  encodeTileIndex,
  MAX_TILE_LEVEL,
  parseTilePath,
  TILE_HEIGHT,
  TILE_WIDTH,
  type TileRef,
  tilePath,
} from './tiles/tile-path.ts';
export {
  type WitnessLog,
  type WitnessOptions,
  type WitnessRecord,
  type WitnessResult,
  witnessAddCheckpoint,
} from './witness/add-checkpoint.ts';
export {
  type AddCheckpointRequest,
  formatAddCheckpointRequest,
  MAX_PROOF_LINES,
  parseAddCheckpointRequest,
} from './witness/add-checkpoint-request.ts';
