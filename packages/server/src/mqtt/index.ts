/**
 * The MQTT listener: the ThingsBoard device API over MQTT 3.1.1, durable QoS 1 (PUBACK only
 * after the points are committed and ledgered), per-device topics that no other device or
 * tenant can reach. The same broker serves TCP, TLS and WebSocket (ws/wss) connections.
 */

export {
  type MqttLimits,
  type MqttListener,
  type MqttListenerOptions,
  startMqttListener,
} from './mqtt-listener.ts';
export type { RefusalReason } from './mqtt-metrics.ts';
export type {
  AttributeQuery,
  AttributeReader,
  OutgoingRpc,
  RpcChannel,
  RpcSender,
} from './mqtt-ports.ts';
export type { MqttTlsOptions, MqttWsOptions } from './mqtt-servers.ts';
