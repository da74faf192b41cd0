import type { Logger } from 'pino';
import type { SharedAttributeChange } from '../devices/index.ts';
import type { MqttListener } from '../mqtt/index.ts';
import type { DeviceRow } from '../store/index.ts';

/**
 * Pushes committed changes of devices' shared attributes to this process's MQTT connections.
 * A change names the keys it touched; what goes out is each key's value as the store holds it
 * when the push is made (or the key as deleted), one push at a time per device. Notices that
 * arrive out of order (the internal channel does not keep it) or pile up still leave a device
 * holding the newest values.
 */
export class SharedAttributePusher {
  readonly #readDevice: (tenantId: string, deviceId: string) => Promise<DeviceRow | undefined>;
  readonly #listener: () => MqttListener | undefined;
  readonly #logger: Logger;
  /** The push in progress per device (`tenant/device`); the next one waits for it. */
  readonly #pushing = new Map<string, Promise<void>>();

  constructor(options: {
    readDevice: (tenantId: string, deviceId: string) => Promise<DeviceRow | undefined>;
    /** This process's listener, once it listens (none in a process without the ingest role). */
    listener: () => MqttListener | undefined;
    logger: Logger;
  }) {
    this.#readDevice = options.readDevice;
    this.#listener = options.listener;
    this.#logger = options.logger;
  }

  push(change: SharedAttributeChange): void {
    const device = { context: { tenantId: change.tenantId }, deviceId: change.deviceId };
    if (this.#listener()?.reaches(device) !== true) return;
    const key = `${change.tenantId}/${change.deviceId}`;
    const pushed = (this.#pushing.get(key) ?? Promise.resolve())
      .then(() => this.#pushNow(change))
      .catch((error: unknown) =>
        this.#logger.warn(
          { err: error, deviceId: change.deviceId },
          'mqtt: pushing shared attributes to a device failed; it reads them at its next request',
        ),
      );
    this.#pushing.set(key, pushed);
    void pushed.finally(() => {
      if (this.#pushing.get(key) === pushed) this.#pushing.delete(key);
    });
  }

  async #pushNow(change: SharedAttributeChange): Promise<void> {
    const row = await this.#readDevice(change.tenantId, change.deviceId);
    if (row === undefined) return;
    const changed: Record<string, unknown> = {};
    const deleted: string[] = [];
    for (const name of [...Object.keys(change.changed), ...change.deleted]) {
      if (Object.hasOwn(row.attributes, name)) changed[name] = row.attributes[name];
      else deleted.push(name);
    }
    await this.#listener()?.pushSharedAttributes({ ...change, changed, deleted });
  }
}
