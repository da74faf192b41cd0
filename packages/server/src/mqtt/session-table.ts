import type { Client } from 'aedes';
import type { DeviceIdentity } from '../devices/index.ts';
import { type DeviceSession, deviceKey } from './device-session.ts';
import type { MqttMetrics } from './mqtt-metrics.ts';

/**
 * The listener's authenticated connections: each aedes client's session, set once CONNECT
 * authenticated it, and the sessions of each device whose connect sequence completed.
 */
export class SessionTable {
  readonly #metrics: MqttMetrics;
  readonly #sessions = new WeakMap<Client, DeviceSession>();
  readonly #byDevice = new Map<string, Set<DeviceSession>>();

  constructor(metrics: MqttMetrics) {
    this.#metrics = metrics;
  }

  /** The client's session; undefined for a client CONNECT did not authenticate. */
  get(client: Client): DeviceSession | undefined {
    return this.#sessions.get(client);
  }

  set(client: Client, session: DeviceSession): void {
    this.#sessions.set(client, session);
  }

  /** The device's connected sessions. */
  ofDevice(device: DeviceIdentity): Iterable<DeviceSession> {
    return this.#byDevice.get(deviceKey(device)) ?? [];
  }

  /** aedes' `clientReady`: the session joins its device's and counts as a connection. */
  ready(client: Client): void {
    const session = this.#sessions.get(client);
    if (session === undefined) return;
    const sessions = this.#byDevice.get(session.deviceKey) ?? new Set<DeviceSession>();
    this.#byDevice.set(session.deviceKey, sessions);
    sessions.add(session);
    this.#metrics.connections.inc();
  }

  /** aedes' `clientDisconnect`: the session's RPC attachments end with it. */
  gone(client: Client): void {
    const session = this.#sessions.get(client);
    if (session === undefined) return;
    session.detachRpc?.();
    session.detachRpc = undefined;
    session.unreachChildren();
    const sessions = this.#byDevice.get(session.deviceKey);
    if (sessions?.delete(session) === true) this.#metrics.connections.dec();
    if (sessions?.size === 0) this.#byDevice.delete(session.deviceKey);
  }
}
