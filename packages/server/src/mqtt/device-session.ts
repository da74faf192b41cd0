import type { Client } from 'aedes';
import type { DeviceIdentity } from '../devices/index.ts';
import type { GateSlot } from './ingest-gate.ts';
import type { SubscriptionKind } from './topics.ts';

/** Child identities a gateway session remembers, oldest forgotten first. */
const GATEWAY_CHILDREN_REMEMBERED = 1024;

/** What the listener knows about one authenticated MQTT connection. */
export class DeviceSession implements GateSlot {
  readonly identity: DeviceIdentity;
  readonly client: Client;
  /** The client id the device sent (aedes holds a tenant- and device-namespaced one). */
  readonly clientId: string;
  readonly subscriptions = new Set<SubscriptionKind>();
  inflight = 0;
  detachRpc: (() => void) | undefined;
  readonly #children = new Map<string, DeviceIdentity>();

  constructor(identity: DeviceIdentity, client: Client, clientId: string) {
    this.identity = identity;
    this.client = client;
    this.clientId = clientId;
  }

  /** The key under which this device's sessions are found (tenant and device). */
  get deviceKey(): string {
    return deviceKey(this.identity);
  }

  child(name: string): DeviceIdentity | undefined {
    return this.#children.get(name);
  }

  rememberChild(name: string, child: DeviceIdentity): void {
    this.#children.delete(name);
    this.#children.set(name, child);
    if (this.#children.size > GATEWAY_CHILDREN_REMEMBERED) {
      const oldest = this.#children.keys().next().value;
      if (oldest !== undefined) this.#children.delete(oldest);
    }
  }

  forgetChild(name: string): void {
    this.#children.delete(name);
  }
}

/** Tenant and device, the one key for a device's live sessions. */
export function deviceKey(identity: DeviceIdentity): string {
  return `${identity.context.tenantId}/${identity.deviceId}`;
}
