export {
  contentHash,
  type EdgeBatch,
  type EdgeMessage,
  signedContent,
  verifyBatch,
} from './batch-signature.ts';
export {
  EdgeCredentialSync,
  type EdgeDevice,
  type EdgeDeviceCredential,
} from './credential-sync.ts';
export {
  type BatchResult,
  EdgeService,
  type Enrolled,
  type IssuedToken,
} from './edge-service.ts';
