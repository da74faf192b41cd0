/**
 * The ThingsBoard device API as an allow-list. A device publishes and subscribes only to
 * the exact topics below; everything else (wildcards beyond these two filters, `$share`,
 * `$SYS`, other devices' topics, odd spellings) is refused. Request ids are decimal, as
 * ThingsBoard firmware sends them, or the UUIDs Palisade gives server-side RPC requests.
 * A gateway also publishes to `v1/gateway/connect|disconnect|telemetry|attributes|rpc` and
 * `v1/gateway/attributes/request`, and subscribes to `v1/gateway/rpc` (its children's RPC
 * requests), `v1/gateway/attributes` (their shared attribute updates) and
 * `v1/gateway/attributes/response` (answers to its attribute requests).
 */

import { requestIdAfter } from '@palisade/device-api';

/** What a device's PUBLISH asks for. */
export type PublishRoute =
  | { readonly kind: 'telemetry' }
  | { readonly kind: 'attributes' }
  | { readonly kind: 'attribute-request'; readonly requestId: string }
  | { readonly kind: 'rpc-response'; readonly requestId: string }
  | { readonly kind: 'gateway-telemetry' }
  | { readonly kind: 'gateway-attributes' }
  | { readonly kind: 'gateway-connect' }
  | { readonly kind: 'gateway-disconnect' }
  | { readonly kind: 'gateway-rpc' }
  | { readonly kind: 'gateway-attribute-request' };

/** The topics a device may subscribe to, by what the server sends there. */
export type SubscriptionKind =
  | 'attributes'
  | 'attribute-responses'
  | 'rpc-requests'
  | 'gateway-rpc'
  | 'gateway-attributes'
  | 'gateway-attribute-responses';

export const TOPIC = {
  telemetry: 'v1/devices/me/telemetry',
  attributes: 'v1/devices/me/attributes',
  attributeRequest: 'v1/devices/me/attributes/request/',
  attributeResponse: 'v1/devices/me/attributes/response/',
  rpcRequest: 'v1/devices/me/rpc/request/',
  rpcResponse: 'v1/devices/me/rpc/response/',
  gateway: 'v1/gateway/',
  /** A gateway's children's RPC requests (server → gateway) and their answers (gateway → server). */
  gatewayRpc: 'v1/gateway/rpc',
  /** A gateway's children's attributes (gateway → server), their shared updates (server → gateway). */
  gatewayAttributes: 'v1/gateway/attributes',
  /** Answers to a gateway's attribute requests for its children (server → gateway). */
  gatewayAttributeResponse: 'v1/gateway/attributes/response',
} as const;

const GATEWAY_ROUTES: Readonly<Record<string, PublishRoute>> = {
  telemetry: { kind: 'gateway-telemetry' },
  attributes: { kind: 'gateway-attributes' },
  connect: { kind: 'gateway-connect' },
  disconnect: { kind: 'gateway-disconnect' },
  rpc: { kind: 'gateway-rpc' },
  'attributes/request': { kind: 'gateway-attribute-request' },
};

/** What a gateway alone may subscribe to, each an exact filter. */
const GATEWAY_SUBSCRIPTIONS: ReadonlyMap<string, SubscriptionKind> = new Map([
  [TOPIC.gatewayRpc, 'gateway-rpc'],
  [TOPIC.gatewayAttributes, 'gateway-attributes'],
  [TOPIC.gatewayAttributeResponse, 'gateway-attribute-responses'],
]);

/** The route of a PUBLISH topic, or undefined when the device may not publish there. */
export function routePublish(topic: string, isGateway: boolean): PublishRoute | undefined {
  if (topic === TOPIC.telemetry) return { kind: 'telemetry' };
  if (topic === TOPIC.attributes) return { kind: 'attributes' };
  const attributeRequest = requestIdAfter(topic, TOPIC.attributeRequest);
  if (attributeRequest !== undefined)
    return { kind: 'attribute-request', requestId: attributeRequest };
  const rpcResponse = requestIdAfter(topic, TOPIC.rpcResponse);
  if (rpcResponse !== undefined) return { kind: 'rpc-response', requestId: rpcResponse };
  if (isGateway && topic.startsWith(TOPIC.gateway)) {
    const rest = topic.slice(TOPIC.gateway.length);
    return Object.hasOwn(GATEWAY_ROUTES, rest) ? GATEWAY_ROUTES[rest] : undefined;
  }
  return undefined;
}

/** The kind of a SUBSCRIBE filter, or undefined when the device may not subscribe to it. */
export function subscriptionKind(filter: string, isGateway: boolean): SubscriptionKind | undefined {
  if (filter === TOPIC.attributes) return 'attributes';
  const gateway = GATEWAY_SUBSCRIPTIONS.get(filter);
  if (gateway !== undefined) return isGateway ? gateway : undefined;
  if (filter === `${TOPIC.attributeResponse}+`) return 'attribute-responses';
  if (filter === `${TOPIC.rpcRequest}+`) return 'rpc-requests';
  return undefined;
}

/** The subscription a server-sent topic needs, or undefined for a topic the server never sends. */
export function deliveryKind(topic: string): SubscriptionKind | undefined {
  if (topic === TOPIC.attributes) return 'attributes';
  const gateway = GATEWAY_SUBSCRIPTIONS.get(topic);
  if (gateway !== undefined) return gateway;
  if (requestIdAfter(topic, TOPIC.attributeResponse) !== undefined) return 'attribute-responses';
  if (requestIdAfter(topic, TOPIC.rpcRequest) !== undefined) return 'rpc-requests';
  return undefined;
}
