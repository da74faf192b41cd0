/**
 * The part of the ThingsBoard device API an edge node serves, as an allow-list: a device
 * publishes telemetry and client attributes, and may subscribe to what the node sends it.
 * Every other topic or filter (wildcards, `$SYS`, other devices' topics) is refused.
 */

export const TOPIC = {
  telemetry: 'v1/devices/me/telemetry',
  attributes: 'v1/devices/me/attributes',
  attributeResponse: 'v1/devices/me/attributes/response/',
  rpcRequest: 'v1/devices/me/rpc/request/',
  rpcResponse: 'v1/devices/me/rpc/response/',
} as const;

/** What a device publishes to the edge. */
export type PublishKind = 'telemetry' | 'attributes';

/** What a device may subscribe to, by what the node sends there. */
export type SubscriptionKind = 'attributes' | 'attribute-responses' | 'rpc-requests';

export function publishKind(topic: string): PublishKind | undefined {
  if (topic === TOPIC.telemetry) return 'telemetry';
  if (topic === TOPIC.attributes) return 'attributes';
  return undefined;
}

export function subscriptionKind(filter: string): SubscriptionKind | undefined {
  if (filter === TOPIC.attributes) return 'attributes';
  if (filter === `${TOPIC.attributeResponse}+`) return 'attribute-responses';
  if (filter === `${TOPIC.rpcRequest}+`) return 'rpc-requests';
  return undefined;
}

const REQUEST_ID = /^(?:[0-9]{1,10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The request id of a device's RPC answer (`v1/devices/me/rpc/response/{id}`), or undefined. */
export function rpcResponseId(topic: string): string | undefined {
  if (!topic.startsWith(TOPIC.rpcResponse)) return undefined;
  const id = topic.slice(TOPIC.rpcResponse.length);
  return REQUEST_ID.test(id) ? id : undefined;
}

/** The subscription a topic the node sends needs, or undefined for a topic it never sends. */
export function deliveryKind(topic: string): SubscriptionKind | undefined {
  if (topic === TOPIC.attributes) return 'attributes';
  for (const [prefix, kind] of [
    [TOPIC.attributeResponse, 'attribute-responses'],
    [TOPIC.rpcRequest, 'rpc-requests'],
  ] as const)
    if (topic.startsWith(prefix) && REQUEST_ID.test(topic.slice(prefix.length))) return kind;
  return undefined;
}
