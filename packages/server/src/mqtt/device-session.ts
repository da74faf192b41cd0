import type { Client } from 'aedes';
import type { DeviceIdentity } from '../devices/index.ts';
import type { GateSlot } from './ingest-gate.ts';
import { OutgoingAcks } from './outgoing-acks.ts';
import type { SubscriptionKind } from './topics.ts';

/**
 * Makes a gateway's child reachable for RPC through this connection (`v1/gateway/rpc`);
 * returns what makes it unreachable again.
 */
export type ChildAttacher = (name: string, child: DeviceIdentity) => () => void;

/**
 * Where sessions tell which children they connected under which name, so a push for a child
 * (a shared attribute update) finds the gateway connections that speak for it.
 */
export interface ChildIndex {
  connected(child: DeviceIdentity, session: DeviceSession, name: string): void;
  released(child: DeviceIdentity, session: DeviceSession, name: string): void;
}

/** A child the gateway connected or named in this session, and its RPC attachment if any. */
interface ConnectedChild {
  readonly identity: DeviceIdentity;
  detach: (() => void) | undefined;
}

/** What the listener knows about one authenticated MQTT connection. */
export class DeviceSession implements GateSlot {
  readonly identity: DeviceIdentity;
  readonly client: Client;
  /** The client id the device sent (aedes holds a tenant- and device-namespaced one). */
  readonly clientId: string;
  /** The connection's peer address (Cedar's `context.ip`), undefined when the socket has none. */
  readonly address: string | undefined;
  /** What the device subscribed to, each with the QoS granted (the most it is sent at). */
  readonly subscriptions = new Map<SubscriptionKind, 0 | 1>();
  /** The QoS 1 messages sent to it that it has not acknowledged. */
  readonly acks = new OutgoingAcks();
  inflight = 0;
  detachRpc: (() => void) | undefined;
  /**
   * The children this gateway connected (`v1/gateway/connect`) or named in this session, by
   * name, until it disconnects them: ThingsBoard's gateway session. Only the gateway's own
   * children enter (the authenticator refuses any other name), so there are at most
   * `gatewayChildrenMax`.
   */
  readonly #children = new Map<string, ConnectedChild>();
  /** Set while the gateway is subscribed to `v1/gateway/rpc`. */
  #attachChild: ChildAttacher | undefined;
  /** Undefined once the connection ended: a child named by a late message is not indexed. */
  #index: ChildIndex | undefined;

  constructor(
    identity: DeviceIdentity,
    client: Client,
    clientId: string,
    address: string | undefined,
    index: ChildIndex,
  ) {
    this.identity = identity;
    this.client = client;
    this.clientId = clientId;
    this.address = address;
    this.#index = index;
  }

  /** The key under which this device's sessions are found (tenant and device). */
  get deviceKey(): string {
    return deviceKey(this.identity);
  }

  child(name: string): DeviceIdentity | undefined {
    return this.#children.get(name)?.identity;
  }

  /** The gateway connected or named a child: it is reachable for RPC if the gateway listens. */
  rememberChild(name: string, child: DeviceIdentity): void {
    const known = this.#children.get(name);
    if (known !== undefined && sameDevice(known.identity, child)) return;
    if (known !== undefined) this.forgetChild(name);
    const entry: ConnectedChild = { identity: child, detach: undefined };
    this.#children.set(name, entry);
    this.#index?.connected(child, this, name);
    entry.detach = this.#attachChild?.(name, child);
  }

  /**
   * The gateway disconnected a child: no more RPC requests or attribute updates go to it
   * through this connection.
   */
  forgetChild(name: string): void {
    const known = this.#children.get(name);
    if (known === undefined) return;
    known.detach?.();
    this.#children.delete(name);
    this.#index?.released(known.identity, this, name);
  }

  /** Whether this connection still speaks for `child` under `name`. */
  speaksFor(name: string, child: DeviceRef): boolean {
    const known = this.#children.get(name);
    return known !== undefined && sameDevice(known.identity, child);
  }

  /**
   * The connection ended: its children are unreachable through it and leave the index, and
   * what it did not acknowledge never will be.
   */
  end(): void {
    this.acks.end();
    this.unreachChildren();
    for (const name of [...this.#children.keys()]) this.forgetChild(name);
    this.#index = undefined;
  }

  /** The gateway subscribed to `v1/gateway/rpc`: each connected child, and each one it connects from now, is reachable. */
  reachChildren(attach: ChildAttacher): void {
    if (this.#attachChild !== undefined) return;
    this.#attachChild = attach;
    for (const [name, entry] of this.#children) entry.detach = attach(name, entry.identity);
  }

  /** The gateway unsubscribed from `v1/gateway/rpc` or its connection ended. */
  unreachChildren(): void {
    this.#attachChild = undefined;
    for (const entry of this.#children.values()) {
      entry.detach?.();
      entry.detach = undefined;
    }
  }

  /** Whether a request for `child` may still be written to this connection under `name`. */
  reaches(name: string, child: DeviceIdentity): boolean {
    const entry = this.#children.get(name);
    return entry?.identity === child && entry.detach !== undefined;
  }
}

function sameDevice(a: DeviceRef, b: DeviceRef): boolean {
  return a.context.tenantId === b.context.tenantId && a.deviceId === b.deviceId;
}

/** What names a device across its connections: its tenant and id (an identity is one). */
export interface DeviceRef {
  readonly context: { readonly tenantId: string };
  readonly deviceId: string;
}

/** Tenant and device, the one key for a device's live sessions. */
export function deviceKey(identity: DeviceRef): string {
  return `${identity.context.tenantId}/${identity.deviceId}`;
}
