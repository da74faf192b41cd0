import { type AttributeQuery, attributeQuery, InvalidAttributeRequest } from '@palisade/device-api';
import type { DeviceAuthenticator, DeviceIdentity, TelemetryIngest } from '../devices/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { unstorableJson } from '../store/index.ts';
import type { DeviceSession } from './device-session.ts';
import { attributesForChild } from './gateway-attributes.ts';
import { childName, currentChild } from './gateway-child.ts';
import { answerForChild } from './gateway-rpc.ts';
import type { AttributeReader, DeviceActs, RpcChannel } from './mqtt-ports.ts';
import { MqttRefusal } from './mqtt-refusal.ts';
import { type PublishRoute, TOPIC } from './topics.ts';

/** What handling a device's PUBLISH may use. */
export interface PublishDeps {
  readonly authenticator: DeviceAuthenticator;
  readonly acts: DeviceActs;
  readonly ingest: TelemetryIngest;
  readonly attributes: AttributeReader | undefined;
  readonly rpc: RpcChannel | undefined;
  /** Sends a server message to one session, if it subscribed to that topic. */
  readonly send: (session: DeviceSession, topic: string, body: unknown) => Promise<boolean>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The payload as JSON, or a refusal naming why it is not or what in it no store keeps. */
export function parseJson(payload: Uint8Array): unknown {
  let text: string;
  let value: unknown;
  try {
    text = utf8.decode(payload);
    value = JSON.parse(text);
  } catch {
    throw new MqttRefusal('invalid_json', 'the payload is not UTF-8 JSON');
  }
  const found = unstorableJson(text, value);
  if (found !== undefined)
    throw new MqttRefusal('invalid_payload', `${found.path || '/'} ${found.message}`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What answering an RPC request that is unknown, already answered or expired throws. */
const STALE_RPC_ANSWER: ReadonlySet<string> = new Set([
  'PALISADE_RPC_NOT_FOUND',
  'PALISADE_RPC_NOT_PENDING',
]);

/**
 * Does what a device's PUBLISH asks, resolving only when its effect is durable (telemetry
 * and attributes committed and ledgered) so the caller may then acknowledge it. Resolves
 * with a refusal for a message to acknowledge and drop, the connection kept: an answer to
 * an RPC request that is not pending (a gateway's for its child too), which a QoS 1 device
 * would otherwise send again after every reconnection (ThingsBoard drops it too).
 */
export async function handleDevicePublish(
  deps: PublishDeps,
  session: DeviceSession,
  route: PublishRoute,
  payload: Uint8Array,
): Promise<MqttRefusal | undefined> {
  const device = session.identity;
  const body = parseJson(payload);
  switch (route.kind) {
    case 'telemetry':
      await deps.ingest.telemetry(device, body);
      return;
    case 'attributes':
      await deps.ingest.attributes(device, body);
      return;
    case 'attribute-request': {
      if (deps.attributes === undefined)
        throw new MqttRefusal('topic_not_allowed', 'attribute requests are not served');
      let query: AttributeQuery;
      try {
        query = attributeQuery(body);
      } catch (error) {
        if (error instanceof InvalidAttributeRequest)
          throw new MqttRefusal('invalid_payload', error.message);
        throw error;
      }
      const answer = await deps.attributes.read(device, query);
      await deps.send(session, `${TOPIC.attributeResponse}${route.requestId}`, answer);
      return;
    }
    case 'rpc-response':
      if (deps.rpc === undefined)
        throw new MqttRefusal('topic_not_allowed', 'RPC responses are not served');
      try {
        await deps.rpc.respond(device, route.requestId, body);
      } catch (error) {
        if (error instanceof PalisadeError && STALE_RPC_ANSWER.has(error.code))
          return new MqttRefusal('rpc_not_pending', error.message, error.code);
        throw error;
      }
      return;
    case 'gateway-connect': {
      const name = childName(body);
      session.rememberChild(name, await deps.authenticator.gatewayChild(device, name));
      return;
    }
    case 'gateway-disconnect':
      session.forgetChild(childName(body));
      return;
    case 'gateway-rpc':
      return answerForChild(deps, session, body);
    case 'gateway-attribute-request':
      await attributesForChild(deps, session, body);
      return;
    case 'gateway-telemetry':
    case 'gateway-attributes': {
      if (!isObject(body))
        throw new MqttRefusal('invalid_payload', 'a gateway payload maps device names to data');
      await deps.ingest.children(
        device,
        route.kind === 'gateway-telemetry' ? 'telemetry' : 'attributes',
        Object.entries(body).map(([name, payload]) => ({
          find: () => existingChild(deps, session, name),
          prepare: () => deps.authenticator.newGatewayChild(session.identity, name),
          created: (child) => session.rememberChild(name, child),
          payload,
        })),
      );
      return;
    }
  }
}

/** The gateway's child by that name, if there is one; throws for a name it may not have. */
async function existingChild(
  deps: PublishDeps,
  session: DeviceSession,
  name: string,
): Promise<DeviceIdentity | undefined> {
  if (name === '') throw new MqttRefusal('invalid_payload', 'a device name must not be empty');
  const known = await currentChild(deps, session, name);
  if (known !== undefined) return known;
  const child = await deps.authenticator.existingGatewayChild(session.identity, name);
  if (child !== undefined) session.rememberChild(name, child);
  return child;
}
