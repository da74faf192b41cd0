import type { AedesPublishPacket, Client, PublishPacket } from 'aedes';
import type { DeviceAuthenticator } from '../devices/index.ts';
import type { DeviceRef, DeviceSession } from './device-session.ts';
import type { MqttMetrics } from './mqtt-metrics.ts';
import type { SessionTable } from './session-table.ts';
import { deliveryKind, TOPIC } from './topics.ts';

/** What sending server messages to sessions uses. */
export interface SessionSenderOptions {
  readonly sessions: SessionTable;
  readonly authenticator: DeviceAuthenticator;
  readonly metrics: MqttMetrics;
  /** How long an RPC request waits for the device's PUBACK (`mqttRpcAckWaitMs`). */
  readonly rpcAckWaitMs: number;
}

/** A message this listener made, the connection it may go to and its packet identifier. */
interface Outgoing {
  readonly session: DeviceSession;
  /** Undefined at QoS 0. */
  readonly messageId: number | undefined;
}

/** A message written to a connection: whether the device took it, once that is known. */
export interface Written {
  readonly acknowledged: Promise<boolean>;
}

/**
 * Server-to-device messages (RPC requests, attribute responses and pushes). aedes forwards a
 * packet to a client only when this sender made its payload for that very client and the
 * client subscribed to its topic, so two devices can never exchange a message through it.
 * Each goes at the QoS the device subscribed with (at most 1), under a packet identifier of
 * its session's own (outgoing-acks.ts), so that an RPC request is known delivered by its PUBACK.
 */
export class SessionSender {
  readonly #options: SessionSenderOptions;
  /** Payloads this listener made, and where each may be forwarded. */
  readonly #outgoing = new WeakMap<Buffer, Outgoing>();

  constructor(options: SessionSenderOptions) {
    this.#options = options;
  }

  /** aedes' `authorizeForward`: the packet, with its identifier, when it may go to `client`; else null. */
  forwardable(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const outgoing = this.#outgoing.get(packet.payload as Buffer);
    if (outgoing?.session.client !== client) return null;
    if (this.#qos(outgoing.session, packet.topic) === undefined) {
      if (outgoing.messageId !== undefined) outgoing.session.acks.release(outgoing.messageId);
      return null;
    }
    return outgoing.messageId === undefined ? packet : { ...packet, messageId: outgoing.messageId };
  }

  /**
   * Sends a server message to one session if it subscribed to the topic and its credential
   * still authenticates it (else the connection is closed); true once written.
   */
  async send(session: DeviceSession, topic: string, body: unknown): Promise<boolean> {
    return (await this.#publish(session, topic, body, undefined)) !== undefined;
  }

  /**
   * Sends an RPC request as `send` does. Once written, resolves with whether the device took
   * it: true at its PUBACK, false when the connection ends first or `rpcAckWaitMs` passes. A
   * device that subscribed at QoS 0 asked for no PUBACK: written is taken. Undefined when
   * not written.
   */
  request(session: DeviceSession, topic: string, body: unknown): Promise<Written | undefined> {
    return this.#publish(session, topic, body, this.#options.rpcAckWaitMs);
  }

  /** Writes the message; with `ackWaitMs`, waits that long at most for its PUBACK. */
  async #publish(
    session: DeviceSession,
    topic: string,
    body: unknown,
    ackWaitMs: number | undefined,
  ): Promise<Written | undefined> {
    if (this.#qos(session, topic) === undefined) return undefined;
    if (!(await this.#options.authenticator.current(session.identity))) {
      this.#options.metrics.refusals.inc({ reason: 'bad_credentials', code: 'none' });
      session.client.close();
      return undefined;
    }
    // Read again: the device may have unsubscribed while its credential was checked.
    const qos = this.#qos(session, topic);
    const messageId = qos === 1 ? session.acks.take() : undefined;
    if (qos === undefined || (qos === 1 && messageId === undefined)) return undefined;
    // Waited for before the write: a PUBACK may be handled before the write's callback.
    const acknowledged =
      messageId === undefined || ackWaitMs === undefined
        ? Promise.resolve(true)
        : session.acks.acknowledged(messageId, ackWaitMs);
    const payload = Buffer.from(JSON.stringify(body));
    this.#outgoing.set(payload, { session, messageId });
    const packet = { cmd: 'publish', topic, payload, qos, retain: false, dup: false } as const;
    await new Promise<void>((resolve, reject) =>
      session.client.publish(packet as PublishPacket, (error) =>
        error === undefined || error === null ? resolve() : reject(error),
      ),
    );
    return { acknowledged };
  }

  /**
   * Pushes changed shared attributes to each connection of the device subscribed to
   * `v1/devices/me/attributes`, and to each gateway connection that connected it (as a child)
   * and subscribed to `v1/gateway/attributes`, as `{"device": name, "data": attributes}`.
   */
  async pushAttributes(device: DeviceRef, attributes: Record<string, unknown>): Promise<number> {
    let sent = 0;
    for (const session of this.#options.sessions.ofDevice(device)) {
      if (await this.send(session, TOPIC.attributes, attributes)) sent++;
    }
    for (const [gateway, name] of this.#options.sessions.gatewaysOf(device)) {
      // The gateway may have disconnected the child while earlier pushes were written, or the
      // child may have left the gateway.
      const child = gateway.child(name);
      if (child === undefined || !gateway.speaksFor(name, device)) continue;
      if (!(await this.#options.authenticator.current(child))) {
        gateway.forgetChild(name);
        continue;
      }
      const update = { device: name, data: attributes };
      if (await this.send(gateway, TOPIC.gatewayAttributes, update)) sent++;
    }
    return sent;
  }

  /** The QoS the session is sent `topic` at; undefined when it did not subscribe to it. */
  #qos(session: DeviceSession, topic: string): 0 | 1 | undefined {
    const kind = deliveryKind(topic);
    return kind === undefined ? undefined : session.subscriptions.get(kind);
  }
}
