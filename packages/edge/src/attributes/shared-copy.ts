import type { DatabaseSync } from 'node:sqlite';
import { isDeepStrictEqual } from 'node:util';
import { sealJson } from '../sealed-json.ts';
import { type Attributes, openSealedDevices } from './sealed-devices.ts';

/** The file of the node's copy of its devices' shared attributes inside a node directory. */
export const SHARED_ATTRIBUTES_FILE = 'shared-attributes.db';

export type { Attributes } from './sealed-devices.ts';

/**
 * What the platform sends down the RPC link: `complete`, the node's devices are exactly
 * these; else these are replaced and the rest kept. `digest` names the resulting copy.
 */
export interface SharedUpdate {
  readonly digest: string;
  readonly complete: boolean;
  readonly devices: readonly { readonly deviceId: string; readonly attributes: Attributes }[];
}

/**
 * The node's copy of the shared attributes of the devices it serves, so a device hears of
 * them while the platform is unreachable too, across restarts. It holds what the platform's
 * updates made of it and echoes the platform's digest for it, never one of its own: the
 * platform alone decides when the copy is stale. Kept in SQLite, each device's attributes
 * sealed under the node's key and bound to the device id. A failure to store an update is
 * reported and the update still holds in memory: the copy read back after a restart is then
 * older, and its digest says so to the platform, which sends all of it again.
 */
export class SharedAttributeCopy {
  readonly #db: DatabaseSync;
  readonly #key: Uint8Array;
  readonly #devices: Map<string, Attributes>;
  readonly #notStored: (error: unknown) => void;
  #digest = '';

  constructor(path: string, key: Uint8Array, notStored: (error: unknown) => void) {
    this.#key = key;
    this.#notStored = notStored;
    ({ db: this.#db, devices: this.#devices } = openSealedDevices(
      path,
      key,
      'CREATE TABLE IF NOT EXISTS copy (k TEXT PRIMARY KEY, v TEXT NOT NULL) STRICT;',
    ));
    const digest = this.#db.prepare("SELECT v FROM copy WHERE k = 'digest'").get() as
      | { v: string }
      | undefined;
    this.#digest = digest?.v ?? '';
  }

  /** The platform's digest of this copy; empty before the first update. */
  get digest(): string {
    return this.#digest;
  }

  get size(): number {
    return this.#devices.size;
  }

  /** A device's attributes, or undefined for a device the node does not serve. */
  get(deviceId: string): Attributes | undefined {
    return this.#devices.get(deviceId);
  }

  /** Applies an update; returns the devices whose attributes it changed, added or removed. */
  apply(update: SharedUpdate): string[] {
    const put = update.devices.filter(
      (d) => !isDeepStrictEqual(this.#devices.get(d.deviceId), d.attributes),
    );
    const listed = new Set(update.devices.map((d) => d.deviceId));
    const removed = update.complete
      ? [...this.#devices.keys()].filter((id) => !listed.has(id))
      : [];
    for (const d of put) this.#devices.set(d.deviceId, d.attributes);
    for (const id of removed) this.#devices.delete(id);
    this.#digest = update.digest;
    try {
      this.#store(put, removed);
    } catch (error) {
      this.#notStored(error);
    }
    return [...put.map((d) => d.deviceId), ...removed];
  }

  #store(put: SharedUpdate['devices'], removed: readonly string[]): void {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const upsert = this.#db.prepare('INSERT OR REPLACE INTO devices (id, sealed) VALUES (?, ?)');
      for (const d of put) upsert.run(d.deviceId, sealJson(this.#key, d.deviceId, d.attributes));
      const remove = this.#db.prepare('DELETE FROM devices WHERE id = ?');
      for (const id of removed) remove.run(id);
      this.#db.prepare("INSERT OR REPLACE INTO copy (k, v) VALUES ('digest', ?)").run(this.#digest);
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
