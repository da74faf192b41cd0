import { setNewest } from '../caches/index.ts';
import type { Tenant } from '../tenancy/index.ts';

/** A device's name, type and labels, as Cedar policies see it. */
export type DeviceAttributes = Readonly<Record<string, string | readonly string[]>>;

interface CachedDevice {
  readonly expires: number;
  readonly attributes: DeviceAttributes | Promise<DeviceAttributes>;
}

/**
 * The attributes of devices acting as principals (their MQTT and HTTP device-API acts), read
 * at most once per `ttlMs` each, so a policy sees a change of a device's labels within that;
 * at most `max` devices, the least recently read going first. A failed read is not kept.
 */
export class ActingDevices {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #read: (tenant: Tenant, deviceId: string) => Promise<DeviceAttributes>;
  /** By `tenant/device`. */
  readonly #devices = new Map<string, CachedDevice>();

  constructor(options: {
    ttlMs: number;
    max: number;
    read: (tenant: Tenant, deviceId: string) => Promise<DeviceAttributes>;
  }) {
    this.#ttlMs = options.ttlMs;
    this.#max = options.max;
    this.#read = options.read;
  }

  /** The device's attributes: at once while cached, else once read. */
  of(tenant: Tenant, deviceId: string): DeviceAttributes | Promise<DeviceAttributes> {
    const key = `${tenant.id}/${deviceId}`;
    const cached = this.#devices.get(key);
    if (cached !== undefined && cached.expires > Date.now()) return cached.attributes;
    const reading = this.#read(tenant, deviceId);
    const entry = { expires: Date.now() + this.#ttlMs, attributes: reading };
    setNewest(this.#devices, key, entry, this.#max);
    reading.then(
      (attributes) => {
        if (this.#devices.get(key) === entry)
          this.#devices.set(key, { expires: entry.expires, attributes });
      },
      () => {
        if (this.#devices.get(key) === entry) this.#devices.delete(key);
      },
    );
    return reading;
  }

  /** Devices held now. */
  get size(): number {
    return this.#devices.size;
  }

  /** Forgets every device of a deleted tenant. */
  forgetTenant(tenantId: string): void {
    const prefix = `${tenantId}/`;
    for (const key of this.#devices.keys()) if (key.startsWith(prefix)) this.#devices.delete(key);
  }
}
