/**
 * Server-side RPC to a gateway's children over the ThingsBoard gateway API. A gateway that
 * subscribes to `v1/gateway/rpc` is, for each child it connected or named in this session,
 * that child's connection: the RPC queue attaches the child with a sender that writes
 * `{"device": name, "data": {"id", "method", "params"}}` there. The gateway answers on the
 * same topic with `{"device": name, "id": requestId, "data": response}`; the answer is the
 * child's, so it is taken only for the gateway's own child and that child's request.
 */
import { PalisadeError } from '../errors/index.ts';
import type { PublishDeps } from './device-publish.ts';
import type { DeviceSession } from './device-session.ts';
import { childName, knownChild } from './gateway-child.ts';
import type { OutgoingRpc } from './mqtt-ports.ts';
import { MqttRefusal } from './mqtt-refusal.ts';

/** A request id as Palisade gives them to server-side RPC requests: a lower-case UUID. */
const RPC_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What the server publishes on `v1/gateway/rpc` for one of the gateway's children. */
export function gatewayRequest(name: string, request: OutgoingRpc): unknown {
  const { method, params } = request.body;
  return { device: name, data: { id: request.requestId, method, params: params ?? null } };
}

/** A gateway's answer: the child's name, the request id and the response (`null` if absent). */
interface GatewayAnswer {
  readonly name: string;
  readonly requestId: string;
  readonly data: unknown;
}

function parseAnswer(body: unknown): GatewayAnswer {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new MqttRefusal('invalid_payload', 'an RPC answer is {"device", "id", "data"}');
  const { id, data } = body as Record<string, unknown>;
  const device = childName(body);
  if (typeof id !== 'string' || !RPC_ID.test(id))
    throw new MqttRefusal('invalid_payload', 'id must be the request id the server sent');
  return { name: device, requestId: id, data: data ?? null };
}

/**
 * Takes a gateway's answer on `v1/gateway/rpc` for one of its children. Throws (the
 * connection is closed) for a malformed answer, a device that is not this gateway's child
 * and a request its child does not have; resolves with a refusal to acknowledge and drop for
 * one no longer pending, as a direct device's stale answer is.
 */
export async function answerForChild(
  deps: PublishDeps,
  session: DeviceSession,
  body: unknown,
): Promise<MqttRefusal | undefined> {
  if (deps.rpc === undefined)
    throw new MqttRefusal('topic_not_allowed', 'RPC responses are not served');
  const answer = parseAnswer(body);
  const child = await knownChild(deps, session, answer.name);
  try {
    await deps.rpc.respond(child, answer.requestId, answer.data);
  } catch (error) {
    if (error instanceof PalisadeError && error.code === 'PALISADE_RPC_NOT_PENDING')
      return new MqttRefusal('rpc_not_pending', error.message, error.code);
    throw error;
  }
  return undefined;
}
