import type { Client } from 'aedes';
import type { DeviceIdentity } from '../devices/index.ts';
import { type ChildIndex, type DeviceRef, DeviceSession, deviceKey } from './device-session.ts';
import type { MqttMetrics } from './mqtt-metrics.ts';

/**
 * The listener's authenticated connections: each aedes client's session, set once CONNECT
 * authenticated it, the sessions of each device whose connect sequence completed, and the
 * gateway sessions that connected each child (with the names they gave it).
 */
export class SessionTable implements ChildIndex {
  readonly #metrics: MqttMetrics;
  readonly #sessions = new WeakMap<Client, DeviceSession>();
  readonly #byDevice = new Map<string, Set<DeviceSession>>();
  readonly #byChild = new Map<string, Map<DeviceSession, Set<string>>>();
  readonly #kept = new Map<string, Set<string>>();

  constructor(metrics: MqttMetrics) {
    this.#metrics = metrics;
  }

  /** The tenant's connected sessions (a copy). */
  ofTenant(tenantId: string): DeviceSession[] {
    const prefix = `${tenantId}/`;
    return [...this.#byDevice]
      .filter(([key]) => key.startsWith(prefix))
      .flatMap(([, sessions]) => [...sessions]);
  }

  /**
   * The broker ids of the tenant's sessions that asked to be kept (clean session off): their
   * subscriptions and unacknowledged messages stay in the broker's store after they end.
   */
  keptOf(tenantId: string): string[] {
    return [...(this.#kept.get(tenantId) ?? [])];
  }

  /** The tenant is gone: forget its kept sessions. */
  forgetTenant(tenantId: string): void {
    this.#kept.delete(tenantId);
  }

  /** The client's session; undefined for a client CONNECT did not authenticate. */
  get(client: Client): DeviceSession | undefined {
    return this.#sessions.get(client);
  }

  /** CONNECT authenticated the client as `identity` from `address`: its session, indexed here. */
  open(
    client: Client,
    identity: DeviceIdentity,
    clientId: string,
    address: string | undefined,
  ): void {
    this.#sessions.set(client, new DeviceSession(identity, client, clientId, address, this));
  }

  /** The device's connected sessions. */
  ofDevice(device: DeviceRef): Iterable<DeviceSession> {
    return this.#byDevice.get(deviceKey(device)) ?? [];
  }

  /** Whether the device has a session here, or a gateway session connected it as a child. */
  reaches(device: DeviceRef): boolean {
    const key = deviceKey(device);
    return this.#byDevice.has(key) || this.#byChild.has(key);
  }

  /** The gateway sessions that connected the child, each with a name it gave it (a copy). */
  gatewaysOf(child: DeviceRef): Array<readonly [DeviceSession, string]> {
    const sessions = this.#byChild.get(deviceKey(child)) ?? new Map<DeviceSession, Set<string>>();
    return [...sessions].flatMap(([session, names]) =>
      [...names].map((name) => [session, name] as const),
    );
  }

  connected(child: DeviceIdentity, session: DeviceSession, name: string): void {
    const key = deviceKey(child);
    const sessions = this.#byChild.get(key) ?? new Map<DeviceSession, Set<string>>();
    this.#byChild.set(key, sessions);
    const names = sessions.get(session) ?? new Set<string>();
    sessions.set(session, names);
    names.add(name);
  }

  released(child: DeviceIdentity, session: DeviceSession, name: string): void {
    const key = deviceKey(child);
    const sessions = this.#byChild.get(key);
    const names = sessions?.get(session);
    names?.delete(name);
    if (names?.size === 0) sessions?.delete(session);
    if (sessions?.size === 0) this.#byChild.delete(key);
  }

  /** aedes' `clientReady`: the session joins its device's and counts as a connection. */
  ready(client: Client): void {
    const session = this.#sessions.get(client);
    if (session === undefined) return;
    const sessions = this.#byDevice.get(session.deviceKey) ?? new Set<DeviceSession>();
    this.#byDevice.set(session.deviceKey, sessions);
    sessions.add(session);
    this.#metrics.connections.inc();
    if (client.clean) return;
    const tenantId = session.identity.context.tenantId;
    const kept = this.#kept.get(tenantId) ?? new Set<string>();
    this.#kept.set(tenantId, kept);
    kept.add(client.id);
  }

  /** aedes' `clientDisconnect`: the session's RPC attachments and children end with it. */
  gone(client: Client): void {
    const session = this.#sessions.get(client);
    if (session === undefined) return;
    session.detachRpc?.();
    session.detachRpc = undefined;
    session.end();
    const sessions = this.#byDevice.get(session.deviceKey);
    if (sessions?.delete(session) === true) this.#metrics.connections.dec();
    if (sessions?.size === 0) this.#byDevice.delete(session.deviceKey);
  }
}
