export {
  CREDENTIALS_FILE,
  type DeviceApi,
  type DeviceApiEvents,
  parseHostPort,
  startDeviceApi,
} from './device-api.ts';
export { Refusal, type RefusalReason } from './device-message.ts';
export { groupCommit, type TakeMessage } from './group-commit.ts';
export {
  type AcceptMessage,
  EdgeMqttListener,
  type ListenAddress,
  type ListenerEvents,
  type ListenerOptions,
  type TlsListen,
} from './mqtt-listener.ts';
export { type PublishKind, TOPIC } from './topics.ts';
