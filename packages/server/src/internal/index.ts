export {
  INTERNAL_TOPICS,
  InternalChannel,
  type InternalChannelOptions,
  type InternalHandler,
  type InternalTopic,
} from './internal-channel.ts';
export { type OpenChannel, openInternalChannel } from './open-channel.ts';
export { ChannelRpcRemote } from './rpc-remote.ts';
export {
  SERVICE_TOKEN_LABEL,
  SERVICE_TOKEN_MAX_LIFETIME_MS,
  type ServiceClaims,
  ServiceTokens,
  type TokenCheck,
  type TokenRefusal,
} from './service-token.ts';
