/**
 * A gateway names its child in each gateway message. Messages that act on an existing child
 * (an RPC answer, an attribute request) look it up here: one of the gateway's own children,
 * by name in the gateway's tenant, never created and never another device.
 */
import type { DeviceIdentity } from '../devices/index.ts';
import type { PublishDeps } from './device-publish.ts';
import type { DeviceSession } from './device-session.ts';
import { MqttRefusal } from './mqtt-refusal.ts';

/** The `device` field of a gateway payload: the child's name, a non-empty string. */
export function childName(body: unknown): string {
  const name =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>).device
      : undefined;
  if (typeof name !== 'string' || name === '')
    throw new MqttRefusal('invalid_payload', 'device must be a non-empty string');
  return name;
}

/**
 * The child this session connected or named under that name, while it is still the gateway's;
 * one since moved to another gateway, unlinked or deleted is forgotten here.
 */
export async function currentChild(
  deps: PublishDeps,
  session: DeviceSession,
  name: string,
): Promise<DeviceIdentity | undefined> {
  const known = session.child(name);
  if (known === undefined) return undefined;
  const current = deps.authenticator.current(known);
  if (current === true || (current !== false && (await current))) return known;
  session.forgetChild(name);
  return undefined;
}

/** The child by that name, connected in this session or linked to the gateway; never created. */
export async function knownChild(
  deps: PublishDeps,
  session: DeviceSession,
  name: string,
): Promise<DeviceIdentity> {
  const child =
    (await currentChild(deps, session, name)) ??
    (await deps.authenticator.findGatewayChild(session.identity, name));
  if (child === undefined)
    throw new MqttRefusal(
      'invalid_payload',
      'that device is not a child of this gateway',
      'PALISADE_FORBIDDEN',
    );
  return child;
}
