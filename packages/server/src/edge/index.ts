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
  type EdgeDeviceCa,
  type EdgeDeviceCredential,
} from './credential-sync.ts';
export type { BatchResult } from './edge-batches.ts';
export type { Enrolled, IssuedToken } from './edge-nodes.ts';
export {
  EdgeRpcRelay,
  type EdgeRpcRequest,
  type Exchange,
  type ExchangeInput,
  type RelayedResponse,
  type ResponseOutcome,
} from './edge-rpc.ts';
export { EDGE_RULES, EDGE_RULES_STORED } from './edge-rule-schema.ts';
export { EdgeRuleService, type RuleBook } from './edge-rules.ts';
export { EdgeService } from './edge-service.ts';
export type { EdgeNodeSession } from './node-authentication.ts';
