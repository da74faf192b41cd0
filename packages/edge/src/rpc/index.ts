export {
  RPC_JOURNAL_FILE,
  type RpcJournal,
  type RpcState,
  readRpcStatus,
  SqliteRpcJournal,
} from './rpc-journal.ts';
export {
  DEFAULT_RPC_LINK,
  RpcLink,
  type RpcLinkEvents,
  type RpcLinkSettings,
  type SharedAttributeFeed,
} from './rpc-link.ts';
export {
  type EdgeRpcRequest,
  type RpcAnswer,
  type RpcDeliver,
  RpcRelay,
  type RpcRelayEvents,
} from './rpc-relay.ts';
