import { Counter, Gauge, type Registry } from 'prom-client';

/** Why the listener refused something; a closed set so metric cardinality stays bounded. */
export type RefusalReason =
  | 'bad_credentials'
  | 'auth_unavailable'
  | 'protocol_unsupported'
  | 'packet_too_large'
  | 'malformed_packet'
  | 'topic_not_allowed'
  | 'subscription_not_allowed'
  | 'invalid_json'
  | 'invalid_payload'
  | 'quota_exceeded'
  | 'gateway_children_limit'
  | 'plan_limit_reached'
  | 'ingest_failed'
  | 'rpc_not_pending'
  | 'not_authorized'
  | 'websocket_subprotocol';

/**
 * Prometheus metrics of the MQTT listener, labelled by topic kind and refusal reason, never
 * by tenant, device or topic string.
 */
export class MqttMetrics {
  readonly messages: Counter<'kind' | 'qos'>;
  readonly refusals: Counter<'reason' | 'code'>;
  readonly connections: Gauge;
  readonly inflight: Gauge;
  readonly waits: Counter;

  constructor(registry: Registry | undefined) {
    const registers = registry === undefined ? [] : [registry];
    this.messages = new Counter({
      name: 'palisade_mqtt_messages_total',
      help: 'MQTT PUBLISH packets accepted (durable before any PUBACK), by topic kind and QoS',
      labelNames: ['kind', 'qos'],
      registers,
    });
    this.refusals = new Counter({
      name: 'palisade_mqtt_refusals_total',
      help: 'What the MQTT listener refused, by reason and (for ingestion) the error code',
      labelNames: ['reason', 'code'],
      registers,
    });
    this.connections = new Gauge({
      name: 'palisade_mqtt_connected_devices',
      help: 'Authenticated MQTT connections',
      registers,
    });
    this.inflight = new Gauge({
      name: 'palisade_mqtt_inflight_ingests',
      help: 'MQTT messages being made durable now',
      registers,
    });
    this.waits = new Counter({
      name: 'palisade_mqtt_backpressure_waits_total',
      help: 'MQTT messages that waited for an in-flight slot (publisher slowed down, nothing dropped)',
      registers,
    });
  }
}
