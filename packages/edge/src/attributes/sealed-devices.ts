import { DatabaseSync } from 'node:sqlite';
import { openJson } from '../sealed-json.ts';

/** Attributes of a device, as a node keeps them. */
export type Attributes = Readonly<Record<string, unknown>>;

/**
 * Opens (or makes) a node file of devices' attributes, each row sealed under the node's `key`
 * and bound to its device id (WAL, fsync'd commits), with `tables` of the file's own beside
 * `devices`; answers the file and every device's attributes read back from it.
 */
export function openSealedDevices(
  path: string,
  key: Uint8Array,
  tables = '',
): { db: DatabaseSync; devices: Map<string, Attributes> } {
  if (key.length !== 32) throw new Error('the attribute key must be 32 bytes');
  const db = new DatabaseSync(path);
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, sealed BLOB NOT NULL) STRICT;
    ${tables}
  `);
  const rows = db.prepare('SELECT id, sealed FROM devices').all() as {
    id: string;
    sealed: Uint8Array;
  }[];
  const devices = new Map<string, Attributes>();
  for (const row of rows) devices.set(row.id, openJson(key, row.id, row.sealed) as Attributes);
  return { db, devices };
}
