/**
 * Attribute requests for a gateway's children over the ThingsBoard gateway API. The gateway
 * publishes `{"id": n, "device": name, "client": bool, "key": k}` (or `"keys": [...]`) on
 * `v1/gateway/attributes/request`; the server answers on `v1/gateway/attributes/response`
 * with `{"id": n, "device": name, "value": v}` for `key` (no `value` when the child has no
 * such attribute) or `"values": {…}` (the keys it has) for `keys`. `client` picks the scope,
 * as `clientKeys`/`sharedKeys` do in a device's own request: the attributes the child
 * reported, or the shared ones its tenant set. Only the gateway's own child is answered.
 */
import type { PublishDeps } from './device-publish.ts';
import type { DeviceSession } from './device-session.ts';
import { childName, knownChild } from './gateway-child.ts';
import { MqttRefusal } from './mqtt-refusal.ts';
import { TOPIC } from './topics.ts';

/** A gateway's attribute request for one child. */
interface ChildAttributeRequest {
  readonly id: number;
  readonly name: string;
  readonly client: boolean;
  /** The one key asked with `key` (answered as `value`), or undefined for `keys`. */
  readonly key: string | undefined;
  readonly keys: readonly string[];
}

function keyOf(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '')
    throw new MqttRefusal('invalid_payload', `${field} must be a non-empty string`);
  return value;
}

function parseRequest(body: unknown): ChildAttributeRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new MqttRefusal(
      'invalid_payload',
      'an attribute request is {"id", "device", "client", "key" or "keys"}',
    );
  const { id, client, key, keys } = body as Record<string, unknown>;
  const name = childName(body);
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0)
    throw new MqttRefusal('invalid_payload', 'id must be a non-negative integer');
  if (typeof client !== 'boolean')
    throw new MqttRefusal('invalid_payload', 'client must be true or false');
  if ((key === undefined) === (keys === undefined))
    throw new MqttRefusal('invalid_payload', 'give either key or keys');
  if (key !== undefined) {
    const one = keyOf(key, 'key');
    return { id, name, client, key: one, keys: [one] };
  }
  if (!Array.isArray(keys) || keys.length === 0)
    throw new MqttRefusal('invalid_payload', 'keys must be a non-empty array of strings');
  return { id, name, client, key: undefined, keys: keys.map((k, i) => keyOf(k, `keys/${i}`)) };
}

/**
 * Answers a gateway's attribute request on `v1/gateway/attributes/request` for one of its
 * children, if it subscribed to the response topic. Throws (the connection is closed) for a
 * malformed request and a device that is not this gateway's child.
 */
export async function attributesForChild(
  deps: PublishDeps,
  session: DeviceSession,
  body: unknown,
): Promise<void> {
  if (deps.attributes === undefined)
    throw new MqttRefusal('topic_not_allowed', 'attribute requests are not served');
  const request = parseRequest(body);
  const child = await knownChild(deps, session, request.name);
  const scope = request.client ? 'client' : 'shared';
  const answer = await deps.attributes.read(child, {
    clientKeys: request.client ? request.keys : undefined,
    sharedKeys: request.client ? undefined : request.keys,
  });
  const found = (answer[scope] ?? {}) as Record<string, unknown>;
  const head = { id: request.id, device: request.name };
  const reply =
    request.key === undefined
      ? { ...head, values: found }
      : Object.hasOwn(found, request.key)
        ? { ...head, value: found[request.key] }
        : head;
  await deps.send(session, TOPIC.gatewayAttributeResponse, reply);
}
