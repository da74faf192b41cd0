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
}

/**
 * Server-to-device messages (RPC requests, attribute responses and pushes). aedes forwards a
 * packet to a client only when this sender made its payload for that very client and the
 * client subscribed to its topic, so two devices can never exchange a message through it.
 */
export class SessionSender {
  readonly #options: SessionSenderOptions;
  /** Payloads this listener made, and the one client each may be forwarded to. */
  readonly #outgoing = new WeakMap<Buffer, Client>();

  constructor(options: SessionSenderOptions) {
    this.#options = options;
  }

  /** aedes' `authorizeForward`: the packet, when it may go to `client`; else null. */
  forwardable(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    return this.#outgoing.get(packet.payload as Buffer) === client &&
      this.#subscribed(client, packet.topic)
      ? packet
      : null;
  }

  /**
   * Sends a server message to one session if it subscribed to the topic and its credential
   * still authenticates it (else the connection is closed); QoS 1.
   */
  async send(session: DeviceSession, topic: string, body: unknown): Promise<boolean> {
    if (!this.#subscribed(session.client, topic)) return false;
    if (!(await this.#options.authenticator.current(session.identity))) {
      this.#options.metrics.refusals.inc({ reason: 'bad_credentials', code: 'none' });
      session.client.close();
      return false;
    }
    const payload = Buffer.from(JSON.stringify(body));
    this.#outgoing.set(payload, session.client);
    const packet = { cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false } as const;
    await new Promise<void>((resolve, reject) =>
      session.client.publish(packet as PublishPacket, (error) =>
        error === undefined || error === null ? resolve() : reject(error),
      ),
    );
    return true;
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

  #subscribed(client: Client, topic: string): boolean {
    const kind = deliveryKind(topic);
    return (
      kind !== undefined && this.#options.sessions.get(client)?.subscriptions.has(kind) === true
    );
  }
}
