/**
 * The part of the ThingsBoard device API an edge node serves, as an allow-list: a device
 * publishes telemetry and client attributes, asks for its attributes, and may subscribe to
 * what the node sends it.
 * Every other topic or filter (wildcards, `$SYS`, other devices' topics) is refused.
 */

import { requestIdAfter } from '@palisade/device-api';

export const TOPIC = {
  telemetry: 'v1/devices/me/telemetry',
  attributes: 'v1/devices/me/attributes',
  attributeRequest: 'v1/devices/me/attributes/request/',
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

/** The request id of a device's RPC answer (`v1/devices/me/rpc/response/{id}`), or undefined. */
export function rpcResponseId(topic: string): string | undefined {
  return requestIdAfter(topic, TOPIC.rpcResponse);
}

/** The request id of a device's attribute request (`v1/devices/me/attributes/request/{id}`), or undefined. */
export function attributeRequestId(topic: string): string | undefined {
  return requestIdAfter(topic, TOPIC.attributeRequest);
}

/** The subscription a topic the node sends needs, or undefined for a topic it never sends. */
export function deliveryKind(topic: string): SubscriptionKind | undefined {
  if (topic === TOPIC.attributes) return 'attributes';
  for (const [prefix, kind] of [
    [TOPIC.attributeResponse, 'attribute-responses'],
    [TOPIC.rpcRequest, 'rpc-requests'],
  ] as const)
    if (requestIdAfter(topic, prefix) !== undefined) return kind;
  return undefined;
}
