import type { DatabaseSync } from 'node:sqlite';
import { sealJson } from '../sealed-json.ts';
import { type Attributes, openSealedDevices } from './sealed-devices.ts';

/** The file of the node's record of its devices' client attributes inside a node directory. */
export const CLIENT_ATTRIBUTES_FILE = 'client-attributes.db';

/**
 * The client attributes each device reported through this node, merged key by key as the
 * platform merges them, so the node answers a device's attribute request while the platform
 * is unreachable too, across restarts. It knows only what came through this node: attributes
 * the device reported to the platform directly or through another node are not in it, and it
 * holds what the node accepted, before the platform checked it. Kept in SQLite, each device's
 * attributes sealed under the node's key and bound to the device id. A failure to store a
 * merge is reported and the merge still holds in memory until the node stops.
 */
export class ClientAttributeRecord {
  readonly #db: DatabaseSync;
  readonly #key: Uint8Array;
  readonly #devices: Map<string, Attributes>;
  readonly #notStored: (error: unknown) => void;

  constructor(path: string, key: Uint8Array, notStored: (error: unknown) => void) {
    this.#key = key;
    this.#notStored = notStored;
    ({ db: this.#db, devices: this.#devices } = openSealedDevices(path, key));
  }

  /** What the device reported through this node; empty when it reported nothing. */
  get(deviceId: string): Attributes {
    return this.#devices.get(deviceId) ?? {};
  }

  /** The device reported `attributes` (accepted into the outbox): they replace its keys of the same name. */
  merge(deviceId: string, attributes: Attributes): void {
    const merged = { ...this.get(deviceId), ...attributes };
    this.#devices.set(deviceId, merged);
    try {
      this.#db
        .prepare('INSERT OR REPLACE INTO devices (id, sealed) VALUES (?, ?)')
        .run(deviceId, sealJson(this.#key, deviceId, merged));
    } catch (error) {
      this.#notStored(error);
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
